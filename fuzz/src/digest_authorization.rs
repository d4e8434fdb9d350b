//! `digest_authorization`: the device side of `amt-digest` verifying arbitrary `Authorization`
//! values with [`amt_digest::fuzzing::authorization`].
//!
//! Beyond not panicking: the verdict is deterministic, neither it nor its message carries the
//! password (unless the header itself does), and an accepted header is refused as a replay when
//! it comes again.

use amt_digest::fuzzing::{self, BODY, METHOD, NOW, PASSWORD, URI, USERNAME};
use amt_digest::{Credentials, Rejection, Request, SecretString};

/// Runs the target on one input (bytes that are not UTF-8 are no header value).
pub fn run(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let verdict = fuzzing::authorization(input);

    let password = SecretString::from(PASSWORD);
    let credentials = Credentials::new(USERNAME, &password);
    let request = Request::new(METHOD, URI).with_body(BODY);
    let mut verifier = fuzzing::fixed_verifier();
    let again = verifier.verify(input, &request, &credentials, NOW);
    assert_eq!(verdict, again, "the same header must get the same verdict");

    let shown = match &verdict {
        Ok(verified) => format!("{verified:?}"),
        Err(rejection) => format!("{rejection:?} {rejection}"),
    };
    // A refusal may quote what the header said (its scheme, say); only a header that holds the
    // password itself can make it appear there.
    assert!(
        !shown.contains(PASSWORD) || input.contains(PASSWORD),
        "a verdict must not carry the password: {shown}"
    );

    if verdict.is_ok() {
        let replay = verifier.verify(input, &request, &credentials, NOW);
        assert!(
            matches!(replay, Err(Rejection::Replayed { .. })),
            "an accepted header sent again must be refused as a replay, got {replay:?}"
        );
    }
}
