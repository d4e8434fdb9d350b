//! One workstation's session: one kept-alive connection, calls one at a time, digest state.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as SyncMutex, PoisonError};

use amt_digest::{
    Authorization, Credentials, DigestSession, Request as DigestRequest, Unauthorized,
};
use amt_power::{AmtVersion, ReturnValue};
use amt_trust::Host;
use amt_wsman::{
    Call, DEFAULT_PULL_MAX_ELEMENTS, Element, Identity, Limits, MessageId, PowerCapabilities,
    SoftwareIdentity, client, resource,
};
use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, LOCATION, SERVER, WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};
use tracing::{Instrument, field};

use crate::config::SessionConfig;
use crate::error::{self, Error};
use crate::status::PowerStatus;
use crate::transport::{self, Deadline};

/// Most `Pull` requests one enumeration makes before giving up on a device that never says
/// `EndOfSequence`.
pub const MAX_PULLS: usize = 64;

/// Most items one enumeration collects.
pub const MAX_ENUMERATED_ITEMS: usize = 10_000;

/// A session with one Intel AMT workstation.
///
/// Cheap to clone (clones share the session) and `Send + Sync`: calls from many tasks queue
/// (first come, first served) and run one at a time over one kept-alive HTTPS connection, which
/// is opened on the first call and again whenever the device has closed it, resuming the TLS
/// session. The digest challenge is cached and answered pre-emptively, so a call costs one
/// HTTP request in steady state.
///
/// Every call is cancel-safe: dropping its future abandons the connection it was using (the
/// next call opens a new one). A power change whose future is dropped after `on_send` ran may
/// have reached the device.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    config: SessionConfig,
    /// The `Host` header: `host:port`. `None` if it cannot be a header value (it always can:
    /// a [`Host`] is normalised ASCII).
    authority: Option<HeaderValue>,
    state: Mutex<State>,
    disconnect_requested: AtomicBool,
    server_version: SyncMutex<Option<AmtVersion>>,
}

struct State {
    connection: Option<Connection>,
    digest: DigestSession,
}

/// An HTTP/1.1 connection, driven by its own task.
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
    /// Replies read in full on this connection.
    replies: u64,
    /// The server asked for a client certificate during the handshake.
    client_certificate_requested: bool,
    /// A request is out and its reply not read in full. Still set when a new call starts, it
    /// means the previous call was cancelled mid-exchange: the connection is unusable.
    in_flight: bool,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// How a call may be repeated.
enum Delivery<'a> {
    /// A read: resent once when a reused connection turns out closed before any reply byte.
    Read,
    /// A power change: sent at most once (only a 401 allows answering the challenge); the
    /// callback runs each time the authenticated request is handed to the connection.
    AtMostOnce(&'a mut (dyn FnMut() + Send)),
}

/// A reply read in full.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    message_id: MessageId,
    /// The request carried an `Authorization` header.
    authenticated: bool,
}

/// The session's lock, which also drops the connection when [`Session::disconnect`] asked for
/// it while a call was running.
struct Locked<'a> {
    state: MutexGuard<'a, State>,
    inner: &'a Inner,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if self
            .inner
            .disconnect_requested
            .swap(false, Ordering::AcqRel)
        {
            self.state.connection = None;
        }
    }
}

impl Session {
    /// A session for `config`'s workstation. Nothing is sent before the first call.
    pub fn new(config: SessionConfig) -> Self {
        let authority = HeaderValue::try_from(config.authority()).ok();
        Self {
            inner: Arc::new(Inner {
                config,
                authority,
                state: Mutex::new(State {
                    connection: None,
                    digest: DigestSession::new(),
                }),
                disconnect_requested: AtomicBool::new(false),
                server_version: SyncMutex::new(None),
            }),
        }
    }

    /// The workstation.
    pub fn host(&self) -> &Host {
        &self.inner.config.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.inner.config.port
    }

    /// The AMT version named by the `Server` header of the last reply (every AMT reply, a 401
    /// included, carries one), if any reply has been seen.
    pub fn last_server_version(&self) -> Option<AmtVersion> {
        self.inner
            .server_version
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Closes the kept-alive connection; the next call opens a new one (resuming TLS). A call
    /// in progress finishes first.
    pub fn disconnect(&self) {
        match self.inner.state.try_lock() {
            Ok(mut state) => state.connection = None,
            Err(_) => self
                .inner
                .disconnect_requested
                .store(true, Ordering::Release),
        }
    }

    /// The power state and the `AvailableRequestedPowerStates` (Get
    /// `CIM_AssociatedPowerManagementService`).
    pub async fn power_status(&self) -> Result<PowerStatus, Error> {
        self.read(Call::PowerState, "PowerState", client::parse_power_state)
            .await
            .map(PowerStatus::from)
    }

    /// The AMT firmware version: `VersionString` of `CIM_SoftwareIdentity` `InstanceID=AMT`;
    /// when the device answers that with a fault or an unreadable reply, the version of the
    /// last `Server` header instead.
    pub async fn amt_version(&self) -> Result<AmtVersion, Error> {
        let read = self
            .read(Call::AmtVersion, "AmtVersion", client::parse_amt_version)
            .await
            .and_then(|identity| {
                identity
                    .version_string
                    .trim()
                    .parse::<AmtVersion>()
                    .map_err(|e| Error::protocol(format_args!("VersionString: {e}")))
            });
        match read {
            Err(error @ (Error::Fault(_) | Error::Protocol { .. })) => {
                self.last_server_version().ok_or(error)
            }
            other => other,
        }
    }

    /// The platform's power capabilities (Get `CIM_PowerManagementCapabilities`).
    pub async fn power_capabilities(&self) -> Result<PowerCapabilities, Error> {
        self.read(
            Call::PowerCapabilities,
            "PowerCapabilities",
            client::parse_power_capabilities,
        )
        .await
    }

    /// The OS power saving state, `OSPowerSavingState` of `IPS_PowerManagementService` (AMT 10
    /// and later): 0 unknown, 1 unsupported, 2 full power, 3 OS power saving (Modern Standby).
    /// Older firmware answers with a `DestinationUnreachable` fault.
    pub async fn os_power_state(&self) -> Result<u16, Error> {
        self.read(
            Call::OsPowerState,
            "OsPowerState",
            client::parse_os_power_state,
        )
        .await
    }

    /// WS-Management Identify (sent with credentials, as AMT wants).
    pub async fn identify(&self) -> Result<Identity, Error> {
        self.read(Call::Identify, "Identify", |body, _, limits| {
            client::parse_identify(body, limits)
        })
        .await
    }

    /// Every `CIM_SoftwareIdentity` instance (Enumerate, then Pull until `EndOfSequence`):
    /// `AMT`, `Flash`, `Netstack`, `Sku`, …
    pub async fn software_identities(&self) -> Result<Vec<SoftwareIdentity>, Error> {
        self.enumerate(resource::CIM_SOFTWARE_IDENTITY)
            .await?
            .iter()
            .map(|item| SoftwareIdentity::from_element(item).map_err(from_wsman))
            .collect()
    }

    /// Every instance of a class: Enumerate, then Pull until `EndOfSequence` (at most
    /// [`MAX_PULLS`] pulls and [`MAX_ENUMERATED_ITEMS`] items). Other calls of the session wait
    /// until the enumeration is done.
    pub async fn enumerate(&self, resource_uri: &str) -> Result<Vec<Element>, Error> {
        let span = self.span("Enumerate");
        async {
            let started = Instant::now();
            let mut locked = self.lock().await;
            let result = self.enumerate_locked(&mut locked.state, resource_uri).await;
            finish(result.as_ref().map(|_| StatusCode::OK), started);
            result
        }
        .instrument(span)
        .await
    }

    /// Proves the password with an authenticated call (Get `CIM_SoftwareIdentity`
    /// `InstanceID=AMT`): `Ok` when the device accepted the digest answer.
    ///
    /// A 401 on a fresh nonce is [`Error::CredentialsRejected`], never retried. A reply to a
    /// request that carried no credentials proves nothing and is an [`Error::Protocol`].
    pub async fn validate_credentials(&self) -> Result<(), Error> {
        let span = self.span("ValidateCredentials");
        async {
            let started = Instant::now();
            let mut locked = self.lock().await;
            let result = self
                .exchange(&mut locked.state, &Call::AmtVersion, Delivery::Read)
                .await
                .and_then(|reply| {
                    if !reply.authenticated {
                        return Err(Error::protocol(
                            "the workstation answered without asking for credentials, so they \
                             were not checked",
                        ));
                    }
                    let status = reply.status;
                    match interpret(&reply, self.inner.config.limits, client::parse_amt_version) {
                        // A fault comes after authentication: the login was accepted.
                        Ok(_) | Err(Error::Fault(_)) => Ok(status),
                        Err(other) => Err(other),
                    }
                });
            finish(result.as_ref().copied(), started);
            result.map(drop)
        }
        .instrument(span)
        .await
    }

    /// Asks the device to change the power state (Invoke
    /// `CIM_PowerManagementService.RequestPowerStateChange` with `PowerState` = `power_state`)
    /// and returns its `ReturnValue`. [`ReturnValue::Completed`] does not prove the change
    /// happened: read the state back.
    ///
    /// **At most once.** `on_send` runs each time the authenticated request is handed to the
    /// connection (start the cooldown there). The request is never sent again after that,
    /// whatever follows (timeout, reset, HTTP 5xx, a bad reply): only a 401, which proves the
    /// device did not act, is answered with the new challenge (once), and `on_send` runs again.
    /// On failure, [`Error::may_have_reached_device`] says whether the device may have acted.
    pub async fn request_power_state_change(
        &self,
        power_state: u16,
        on_send: &mut (dyn FnMut() + Send),
    ) -> Result<ReturnValue, Error> {
        let span = self.span("RequestPowerStateChange");
        async {
            let started = Instant::now();
            let call = Call::request_power_state_change(power_state);
            let mut locked = self.lock().await;
            let result = self
                .exchange(&mut locked.state, &call, Delivery::AtMostOnce(on_send))
                .await
                .and_then(|reply| {
                    interpret(
                        &reply,
                        self.inner.config.limits,
                        client::parse_request_power_state_change,
                    )
                    .map(|value| (reply.status, value))
                });
            finish(result.as_ref().map(|(status, _)| *status), started);
            result.map(|(_, value)| ReturnValue::from_code(value))
        }
        .instrument(span)
        .await
    }

    fn span(&self, action: &'static str) -> tracing::Span {
        tracing::debug_span!(
            "amt_call",
            host = %self.inner.config.host,
            port = self.inner.config.port,
            action,
            status = field::Empty,
            duration_ms = field::Empty,
        )
    }

    /// Takes the session's turn (calls queue in order).
    async fn lock(&self) -> Locked<'_> {
        let mut state = self.inner.state.lock().await;
        if self
            .inner
            .disconnect_requested
            .swap(false, Ordering::AcqRel)
        {
            state.connection = None;
        }
        Locked {
            state,
            inner: &self.inner,
        }
    }

    /// One typed read: exchange, then parse.
    async fn read<T>(
        &self,
        call: Call,
        action: &'static str,
        parse: impl FnOnce(&[u8], &MessageId, Limits) -> Result<T, amt_wsman::Error>,
    ) -> Result<T, Error> {
        let span = self.span(action);
        async {
            let started = Instant::now();
            let mut locked = self.lock().await;
            let result = self
                .exchange(&mut locked.state, &call, Delivery::Read)
                .await
                .and_then(|reply| {
                    interpret(&reply, self.inner.config.limits, parse).map(|v| (reply.status, v))
                });
            finish(result.as_ref().map(|(status, _)| *status), started);
            result.map(|(_, value)| value)
        }
        .instrument(span)
        .await
    }

    async fn enumerate_locked(
        &self,
        state: &mut State,
        resource_uri: &str,
    ) -> Result<Vec<Element>, Error> {
        let limits = self.inner.config.limits;
        let enumerate = Call::Enumerate {
            resource_uri: resource_uri.to_owned(),
        };
        let reply = self.exchange(state, &enumerate, Delivery::Read).await?;
        let mut context = interpret(&reply, limits, client::parse_enumerate)?;
        let mut items = Vec::new();
        for _ in 0..MAX_PULLS {
            let pull = Call::Pull {
                resource_uri: resource_uri.to_owned(),
                context,
                max_elements: DEFAULT_PULL_MAX_ELEMENTS,
            };
            let reply = self.exchange(state, &pull, Delivery::Read).await?;
            let page = interpret(&reply, limits, client::parse_pull)?;
            items.extend(page.items);
            if items.len() > MAX_ENUMERATED_ITEMS {
                return Err(Error::protocol(format_args!(
                    "the enumeration of {resource_uri} holds more than {MAX_ENUMERATED_ITEMS} items"
                )));
            }
            if page.end_of_sequence {
                return Ok(items);
            }
            context = page.context.ok_or_else(|| {
                Error::protocol("a PullResponse has neither EndOfSequence nor a context")
            })?;
        }
        Err(Error::protocol(format_args!(
            "the enumeration of {resource_uri} did not end after {MAX_PULLS} pulls"
        )))
    }

    /// Sends `call` and reads the reply, reconnecting and answering digest challenges as
    /// needed, all within the request timeout.
    async fn exchange(
        &self,
        state: &mut State,
        call: &Call,
        mut delivery: Delivery<'_>,
    ) -> Result<Reply, Error> {
        let config = &self.inner.config;
        let authority = self.inner.authority.clone().ok_or_else(|| Error::Local {
            detail: "the host and port do not form a valid Host header".to_owned(),
        })?;
        let credentials = Credentials::new(&config.username, &config.password);
        let deadline = Deadline::after(config.timeouts.request);
        let State {
            connection: slot,
            digest,
        } = state;
        let mut challenge_answered = false;
        let mut resent_after_close = false;
        loop {
            let connection = connected(slot, config, &deadline).await?;
            let (id, cnonce) = random_pair()?;
            let message_id = MessageId::uuid_v4(id);
            let body = call.build_request(&message_id);
            let authorization = digest
                .authorize(&credentials, &DigestRequest::wsman(&body), &mut |buf| {
                    for (out, byte) in buf.iter_mut().zip(cnonce.iter().cycle()) {
                        *out = *byte;
                    }
                })
                .map_err(|e| {
                    Error::protocol(format_args!("the digest challenge cannot be answered: {e}"))
                })?;
            let nonce_use = authorization.as_ref().map(Authorization::nonce_use);
            let request = http_request(&authority, body, authorization.as_ref())?;
            let reused = connection.replies > 0;
            // Under TLS 1.3 a server's refusal of our missing certificate arrives after the
            // handshake, as the first thing read.
            let certificate_pending =
                connection.client_certificate_requested && connection.replies == 0;

            if authorization.is_some()
                && let Delivery::AtMostOnce(on_send) = &mut delivery
            {
                on_send();
            }
            connection.in_flight = true;
            let sending = connection.sender.try_send_request(request);
            let response = match timeout_at(deadline.end(), sending).await {
                Ok(Ok(response)) => response,
                Err(_elapsed) => {
                    *slot = None;
                    return Err(deadline.timeout(true));
                }
                Ok(Err(mut failed)) => {
                    // hyper hands the request back when it never serialised it.
                    let request_sent = failed.take_message().is_none();
                    let error =
                        error::from_hyper(failed.error(), request_sent, certificate_pending);
                    *slot = None;
                    if matches!(delivery, Delivery::Read)
                        && reused
                        && !resent_after_close
                        && error.is_broken_connection()
                    {
                        tracing::debug!(%error, "kept-alive connection was closed; resending the read once");
                        resent_after_close = true;
                        continue;
                    }
                    return Err(error);
                }
            };

            let (parts, incoming) = response.into_parts();
            self.note_server_header(&parts.headers);
            if parts.status == StatusCode::UNAUTHORIZED {
                // AMT's 401 closes the connection; its HTML body says nothing more.
                *slot = None;
                let challenges: Vec<&str> = parts
                    .headers
                    .get_all(WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .collect();
                let verdict = digest.on_unauthorized(nonce_use, challenges).map_err(|e| {
                    Error::protocol(format_args!(
                        "the 401 carries no usable digest challenge: {e}"
                    ))
                })?;
                tracing::debug!(?nonce_use, ?verdict, "401");
                match verdict {
                    verdict if verdict.should_retry() && !challenge_answered => {
                        challenge_answered = true;
                        continue;
                    }
                    Unauthorized::RealmChanged { expected, found } => {
                        return Err(Error::RealmChanged { expected, found });
                    }
                    _ => {
                        return Err(Error::CredentialsRejected {
                            username: config.username.clone(),
                        });
                    }
                }
            }

            let collect = Limited::new(incoming, config.max_body_bytes).collect();
            let body = match timeout_at(deadline.end(), collect).await {
                Ok(Ok(collected)) => collected.to_bytes(),
                Err(_elapsed) => {
                    *slot = None;
                    return Err(deadline.timeout(true));
                }
                Ok(Err(failure)) => {
                    *slot = None;
                    return Err(if failure.is::<LengthLimitError>() {
                        Error::protocol(format_args!(
                            "the reply body exceeds the limit of {} bytes",
                            config.max_body_bytes
                        ))
                    } else if let Some(hyper_error) = failure.downcast_ref::<hyper::Error>() {
                        error::from_hyper(hyper_error, true, false)
                    } else {
                        Error::protocol(format_args!("the reply body cannot be read: {failure}"))
                    });
                }
            };
            connection.replies += 1;
            connection.in_flight = false;
            if closes(&parts.headers) {
                *slot = None;
            }
            return Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
                message_id,
                authenticated: authorization.is_some(),
            });
        }
    }

    fn note_server_header(&self, headers: &HeaderMap) {
        let version = headers
            .get(SERVER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| AmtVersion::from_server_header(value).ok());
        if let Some(version) = version {
            *self
                .inner
                .server_version
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(version);
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("host", &self.inner.config.host)
            .field("port", &self.inner.config.port)
            .field("username", &self.inner.config.username)
            .finish_non_exhaustive()
    }
}

/// The session's connection, opened (or reopened) if it is missing, closed or abandoned.
async fn connected<'a>(
    slot: &'a mut Option<Connection>,
    config: &SessionConfig,
    deadline: &Deadline,
) -> Result<&'a mut Connection, Error> {
    if slot
        .as_ref()
        .is_some_and(|c| c.in_flight || c.sender.is_closed())
    {
        *slot = None;
    }
    if let Some(connection) = slot.as_mut() {
        match timeout_at(deadline.end(), connection.sender.ready()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => *slot = None,
            Err(_elapsed) => {
                *slot = None;
                return Err(deadline.timeout(false));
            }
        }
    }
    match slot {
        Some(connection) => Ok(connection),
        None => Ok(slot.insert(open(config, deadline).await?)),
    }
}

/// Opens a connection and starts its HTTP/1.1 driver.
async fn open(config: &SessionConfig, deadline: &Deadline) -> Result<Connection, Error> {
    let established = transport::establish(config, deadline).await?;
    tracing::debug!(resumed = established.resumed, "connected");
    let (mut sender, connection) = http1::Builder::new()
        .handshake::<_, Full<Bytes>>(TokioIo::new(established.stream))
        .await
        .map_err(|e| error::from_hyper(&e, false, false))?;
    let driver = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::trace!(%error, "connection ended");
        }
    });
    // A fresh connection is ready at once; this only lets hyper say so.
    if let Ok(Err(e)) = timeout_at(deadline.end(), sender.ready()).await {
        return Err(error::from_hyper(
            &e,
            false,
            established.client_certificate_requested,
        ));
    }
    Ok(Connection {
        sender,
        driver,
        replies: 0,
        client_certificate_requested: established.client_certificate_requested,
        in_flight: false,
    })
}

fn http_request(
    authority: &HeaderValue,
    body: Vec<u8>,
    authorization: Option<&Authorization>,
) -> Result<Request<Full<Bytes>>, Error> {
    let mut request = Request::new(Full::new(Bytes::from(body)));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = Uri::from_static("/wsman");
    let headers = request.headers_mut();
    headers.insert(HOST, authority.clone());
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/soap+xml;charset=UTF-8"),
    );
    if let Some(authorization) = authorization {
        let mut value = HeaderValue::from_str(authorization.as_str())
            .map_err(|_| Error::protocol("the digest answer cannot be sent as a header"))?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    Ok(request)
}

/// Whether the reply closes the connection (`Connection: close`).
fn closes(headers: &HeaderMap) -> bool {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("close"))
}

/// Reads a reply: the payload, a SOAP fault, or a protocol error for anything else.
fn interpret<T>(
    reply: &Reply,
    limits: Limits,
    parse: impl FnOnce(&[u8], &MessageId, Limits) -> Result<T, amt_wsman::Error>,
) -> Result<T, Error> {
    let status = reply.status;
    match status.as_u16() {
        200 => parse(&reply.body, &reply.message_id, limits).map_err(from_wsman),
        // AMT sends faults with 400, sometimes 500.
        400 | 500 => match parse(&reply.body, &reply.message_id, limits) {
            Err(amt_wsman::Error::Fault(fault)) => Err(Error::Fault(fault)),
            Err(other) if !reply.body.is_empty() => Err(Error::protocol(format_args!(
                "HTTP {status} without a readable SOAP fault ({other})"
            ))),
            _ => Err(Error::protocol(format_args!(
                "HTTP {status} without a SOAP fault"
            ))),
        },
        300..=399 => {
            let location = reply
                .headers
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("nowhere");
            Err(Error::protocol(format_args!(
                "HTTP {status} redirecting to {location} (redirects are not followed)"
            )))
        }
        _ => Err(Error::protocol(format_args!("HTTP {status}"))),
    }
}

fn from_wsman(error: amt_wsman::Error) -> Error {
    match error {
        amt_wsman::Error::Fault(fault) => Error::Fault(fault),
        other => Error::protocol(format_args!("the reply cannot be read: {other}")),
    }
}

/// Records a call's outcome on its span.
fn finish(result: Result<StatusCode, &Error>, started: Instant) {
    let span = tracing::Span::current();
    let elapsed = started.elapsed();
    span.record(
        "duration_ms",
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
    );
    match result {
        Ok(status) => {
            span.record("status", status.as_u16());
            tracing::debug!(status = status.as_u16(), ?elapsed, "call done");
        }
        Err(error) => {
            tracing::debug!(%error, ?elapsed, "call failed");
        }
    }
}

/// Two times 16 random bytes from the operating system, in one draw: a `MessageID` and a
/// digest cnonce.
fn random_pair() -> Result<([u8; 16], [u8; 16]), Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Local {
        detail: format!("the operating system's random source failed: {e}"),
    })?;
    let (mut first, mut second) = ([0u8; 16], [0u8; 16]);
    first.copy_from_slice(&bytes[..16]);
    second.copy_from_slice(&bytes[16..]);
    Ok((first, second))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &[u8]) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::copy_from_slice(body),
            message_id: MessageId::new("uuid:1").unwrap(),
            authenticated: true,
        }
    }

    fn fault_body() -> Vec<u8> {
        amt_wsman::device::build_fault(
            &amt_wsman::Fault::access_denied(),
            Some(&MessageId::new("uuid:1").unwrap()),
            &MessageId::amt(1),
        )
    }

    #[test]
    fn faults_come_with_400_or_500() {
        for status in [200, 400, 500] {
            let read = interpret(
                &reply(status, &fault_body()),
                Limits::DEFAULT,
                client::parse_power_state,
            );
            assert!(matches!(read, Err(Error::Fault(_))), "{status}: {read:?}");
        }
        let empty = interpret(&reply(500, b""), Limits::DEFAULT, client::parse_power_state);
        assert!(matches!(empty, Err(Error::Protocol { detail }) if detail.contains("500")));
    }

    #[test]
    fn redirects_and_other_statuses_are_protocol_errors() {
        let mut redirect = reply(302, b"");
        redirect
            .headers
            .insert(LOCATION, HeaderValue::from_static("https://elsewhere/"));
        let read = interpret(&redirect, Limits::DEFAULT, client::parse_power_state);
        assert!(
            matches!(read, Err(Error::Protocol { ref detail }) if detail.contains("elsewhere") && detail.contains("not followed")),
            "{read:?}"
        );
        let read = interpret(&reply(404, b""), Limits::DEFAULT, client::parse_power_state);
        assert!(matches!(read, Err(Error::Protocol { detail }) if detail.contains("404")));
    }

    #[test]
    fn malformed_bodies_are_protocol_errors() {
        let read = interpret(
            &reply(200, b"<broken"),
            Limits::DEFAULT,
            client::parse_power_state,
        );
        assert!(matches!(read, Err(Error::Protocol { .. })));
    }

    #[test]
    fn connection_close_is_a_token_in_a_list() {
        let mut headers = HeaderMap::new();
        assert!(!closes(&headers));
        headers.insert(CONNECTION, HeaderValue::from_static("keep-alive, Close"));
        assert!(closes(&headers));
    }

    #[test]
    fn requests_carry_the_headers_amt_expects() {
        let authority = HeaderValue::from_static("[2001:db8::7]:16993");
        let request = http_request(&authority, b"<x/>".to_vec(), None).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri(), "/wsman");
        assert_eq!(request.headers()[HOST], "[2001:db8::7]:16993");
        assert_eq!(
            request.headers()[CONTENT_TYPE],
            "application/soap+xml;charset=UTF-8"
        );
        assert!(request.headers().get(AUTHORIZATION).is_none());
    }

    #[test]
    fn random_draws_differ() {
        let (a, b) = random_pair().unwrap();
        let (c, _) = random_pair().unwrap();
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn sessions_and_their_futures_are_send() {
        assert_send_sync::<Session>();
        fn check(session: Session) {
            fn send<F: std::future::Future + Send>(_: F) {}
            let mut on_send = || {};
            send(session.power_status());
            send(session.enumerate("urn:x"));
            send(session.validate_credentials());
            send(session.request_power_state_change(8, &mut on_send));
        }
        let _ = check;
    }
}
