//! The operator guide's troubleshooting table against the errors amt-manager fails with: every
//! error has a row with its kind whose message pattern its message matches, and every row names a
//! kind amt-manager has.
//!
//! The errors are built here as the manager builds them; where the manager formats the message
//! itself (inventory records, names, the legacy TLS message), they are provoked from a real
//! manager instead, so that a changed message fails this test.

use std::collections::BTreeSet;

use amt_manager::store::StoreError;
use amt_manager::vault::{VaultError, VaultKey};
use amt_manager::{Error, Manager, MemoryStore};
use amt_power::{PowerOperation, PowerState, ReturnValue, Unavailable};
use amt_sim::SimCa;

const GUIDE: &str = include_str!("../../docs/operator-guide.md");

/// One row of the troubleshooting table.
#[derive(Debug)]
struct Row {
    message: String,
    kind: String,
}

/// The rows of section 7: `| \`message\` | \`kind\` | … | … |`.
fn troubleshooting_rows() -> Vec<Row> {
    let section = GUIDE
        .split("\n## ")
        .find(|s| s.starts_with("7. Troubleshooting"))
        .expect("the guide has a section 7, Troubleshooting");
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let unquote = |cell: &str| cell.trim_start_matches("| ").trim_matches('`').to_owned();
            assert!(cells.len() >= 4, "a row of four cells: {line}");
            Row {
                message: unquote(cells[0]),
                kind: unquote(cells[1]),
            }
        })
        .collect()
}

#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    /// `<value>` or `…`: at least one character.
    Value,
}

fn pieces(pattern: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '<' || c == '…' {
            if c == '<' {
                assert!(
                    chars.by_ref().any(|c| c == '>'),
                    "an unclosed placeholder in {pattern:?}"
                );
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Value);
        } else {
            text.push(c);
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

fn matches(pieces: &[Piece], message: &str) -> bool {
    match pieces.split_first() {
        None => message.is_empty(),
        Some((Piece::Text(text), rest)) => message
            .strip_prefix(text.as_str())
            .is_some_and(|after| matches(rest, after)),
        // A value is at least one character: try every split after the first.
        Some((Piece::Value, rest)) => message
            .char_indices()
            .map(|(i, c)| i + c.len_utf8())
            .any(|i| matches(rest, &message[i..])),
    }
}

fn matches_pattern(pattern: &str, message: &str) -> bool {
    matches(&pieces(pattern), message)
}

#[test]
fn patterns_match_what_they_should_and_nothing_else() {
    let pattern = "A power operation was sent <n> s ago; next in <m> s";
    assert!(matches_pattern(
        pattern,
        "A power operation was sent 3 s ago; next in 17 s"
    ));
    assert!(!matches_pattern(
        pattern,
        "A power operation was sent  s ago; next in 17 s"
    ));
    assert!(!matches_pattern(
        pattern,
        "A power operation was sent 3 s ago; next in 17 s!"
    ));
    assert!(matches_pattern(
        "Invalid input: …",
        "Invalid input: the name \"\" is empty"
    ));
    assert!(!matches_pattern("Invalid input: …", "Invalid input: "));
    assert!(!matches_pattern(
        "No credentials found.",
        "No credentials found"
    ));
}

/// Errors whose message the manager formats itself, provoked from a real manager.
async fn provoked() -> Vec<Error> {
    let manager = Manager::builder()
        .store(MemoryStore::new())
        .vault_key(VaultKey::generate().expect("a key"))
        .build()
        .expect("a manager");
    let root = SimCa::generate("guide root").expect("CA");
    let pem = root.cert_pem();
    let mut errors = Vec::new();
    let mut failed = |result: Result<(), Error>, kind: &str| {
        let error = result.expect_err(kind);
        assert_eq!(error.kind(), kind, "{error}");
        errors.push(error);
    };

    failed(manager.add_deployment("", pem).map(drop), "invalid_input");
    failed(
        manager.add_deployment("lab", "not a certificate").map(drop),
        "invalid_provider_root",
    );
    manager.add_deployment("lab", pem).expect("added");
    failed(manager.add_deployment("lab", pem).map(drop), "duplicate");
    manager
        .add_workstation("lab", "ws-042", "127.0.0.1", None, false)
        .expect("added");
    failed(manager.remove_deployment("lab"), "in_use");
    failed(manager.workstation("nowhere").map(drop), "not_found");
    failed(manager.add_pool_member("nobody", "ws-042"), "not_found");
    failed(manager.set_managed("ws-042", true), "not_manageable");
    failed(
        manager
            .run("ws-042", PowerOperation::PowerOn)
            .await
            .map(drop),
        "not_managed",
    );

    let dir = tempfile::tempdir().expect("temp dir");
    failed(
        amt_manager::SqliteStore::open(dir.path())
            .map(drop)
            .map_err(Error::from),
        "inventory",
    );
    let key_file = dir.path().join("garbage.key");
    std::fs::write(&key_file, "not a key").expect("write");
    failed(
        Manager::builder()
            .store(MemoryStore::new())
            .key_file(&key_file)
            .build()
            .map(drop),
        "vault",
    );

    #[cfg(not(feature = "legacy-tls"))]
    errors.push(legacy_tls_not_built(&root).await);
    errors
}

/// A workstation that refuses modern TLS, with its legacy switch on, in a build without the
/// legacy transport.
#[cfg(not(feature = "legacy-tls"))]
async fn legacy_tls_not_built(root: &SimCa) -> Error {
    use secrecy::SecretString;

    let password = "P@ssw0rd-guide1";
    let mut config =
        amt_sim::DeviceConfig::new(password).on("127.0.0.1:0".parse().expect("address"));
    config.tls = amt_sim::TlsProfile::RefuseModern;
    let device = amt_sim::SimDevice::start(config, root)
        .await
        .expect("device");
    let dir = tempfile::tempdir().expect("temp dir");
    let manager = Manager::open(&dir.path().join("inventory.db"), &dir.path().join("key"))
        .expect("a manager");
    let error = manager
        .status_direct(amt_manager::DirectTarget {
            host: amt_trust::Host::parse("127.0.0.1").expect("host"),
            port: device.addr().port(),
            provider_root_pem: root.cert_pem().to_owned(),
            username: "admin".to_owned(),
            password: SecretString::from(password),
            allow_legacy_tls: true,
        })
        .await
        .expect_err("no legacy transport in this build");
    assert_eq!(error.kind(), "unsupported", "{error}");
    error
}

/// The errors whose message is fixed by the error type alone.
fn built() -> Vec<Error> {
    let trust = || amt_trust::ProviderRoot::from_pem("not PEM").expect_err("refused");
    let io = |text: &str| Box::new(std::io::Error::other(text.to_owned()));
    let version = "9.5.30".parse().expect("a version");
    vec![
        Error::NetworkTimeout {
            source: io("timed out"),
        },
        Error::NameMismatch { source: trust() },
        Error::RootMismatch { source: trust() },
        Error::CredentialsInvalid {
            detail: "the workstation refused the user name or password".to_owned(),
            source: None,
        },
        Error::NoCredentials,
        Error::CoolingDown {
            since_secs: 3,
            remaining_secs: 17,
        },
        Error::OperationInProgress,
        Error::OperationUnavailable {
            operation: PowerOperation::PowerOn,
            state: PowerState::On,
            reason: Unavailable::NotAllowedInState {
                state: PowerState::On,
            },
        },
        Error::AmtVersionTooOld {
            operation: PowerOperation::GracefulRestart,
            required: 10,
            actual: Some(version),
        },
        Error::AmtVersionTooOld {
            operation: PowerOperation::GracefulRestart,
            required: 10,
            actual: None,
        },
        Error::OperationRefused {
            operation: PowerOperation::Reset,
            return_value: ReturnValue::UnknownOrUnspecified,
        },
        Error::Unreachable {
            detail: "connection refused".to_owned(),
            source: None,
        },
        Error::CertificateInvalid {
            detail: "it expired".to_owned(),
            source: None,
        },
        Error::LegacyTlsRequired {
            source: io("protocol version"),
        },
        Error::ClientCertificateRequired,
        Error::WsmanFault {
            subcode: "AccessDenied".to_owned(),
            reason: "access denied".to_owned(),
        },
        Error::Protocol {
            detail: "not XML".to_owned(),
        },
        Error::Inventory(StoreError::Database {
            detail: "disk I/O error".to_owned(),
        }),
        Error::Vault(VaultError::Tampered),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_troubleshooting_table_has_every_error_with_its_message() {
    let rows = troubleshooting_rows();
    let errors: Vec<Error> = built().into_iter().chain(provoked().await).collect();
    let mut missing = Vec::new();
    for error in &errors {
        let message = error.to_string();
        let found = rows
            .iter()
            .any(|row| row.kind == error.kind() && matches_pattern(&row.message, &message));
        if !found {
            missing.push(format!("{} {message:?}", error.kind()));
        }
    }
    assert!(
        missing.is_empty(),
        "no row in docs/operator-guide.md section 7 for:\n{}",
        missing.join("\n")
    );

    // Without the feature the legacy message is provoked above; with it, it cannot be.
    let kinds: BTreeSet<&str> = errors
        .iter()
        .map(Error::kind)
        .chain(["unsupported"])
        .collect();
    let unknown: Vec<&Row> = rows
        .iter()
        .filter(|row| !kinds.contains(row.kind.as_str()))
        .collect();
    assert!(unknown.is_empty(), "rows with unknown kinds: {unknown:?}");
    assert!(kinds.len() >= 26, "every kind was tried: {kinds:?}");
}
