//! Without the feature `legacy-tls`, `amt-sim --legacy-tls` says how to get it.
#![cfg(not(feature = "legacy-tls"))]

use std::process::Command;

#[test]
fn amt_sim_without_the_feature_refuses_legacy_tls_and_says_why() {
    let output = Command::new(env!("CARGO_BIN_EXE_amt-sim"))
        .args(["--listen", "127.0.0.1:0", "--legacy-tls", "amt11"])
        .env("AMT_PASSWORD", "P@ssw0rd-legacy1")
        .output()
        .expect("amt-sim runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--legacy-tls needs amt-sim built with the cargo feature legacy-tls"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "no device was started");
}
