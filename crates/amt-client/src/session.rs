//! One workstation's session: one kept-alive connection, calls one at a time, digest state.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as SyncMutex, PoisonError};
use std::time::Duration;

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
use hyper::body::Body as _;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};
use tracing::{Instrument, field};

use crate::config::SessionConfig;
use crate::error::{self, Attempt, Error};
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
    /// The handshake was TLS 1.3 (the server's verdict on our certificate comes after it).
    tls13: bool,
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
    /// A power change: written at most once. Only a 401 (which proves the device did not act)
    /// allows answering the challenge, and only a request that hyper hands back unwritten is
    /// made again on a new connection; the callback runs each time the authenticated request is
    /// handed to a connection.
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
    /// When the call got its turn: its duration is counted from here.
    acquired: Instant,
    /// How long it waited for its turn behind other calls.
    queued: Duration,
}

impl Locked<'_> {
    /// Records a call's outcome on its span: how long it queued, and how long it ran once it
    /// had its turn (the reply's status was recorded when its headers arrived).
    fn finish(&self, error: Option<&Error>) {
        let span = tracing::Span::current();
        let elapsed = self.acquired.elapsed();
        span.record("queued_ms", millis(self.queued));
        span.record("duration_ms", millis(elapsed));
        match error {
            None => tracing::debug!(?elapsed, "call done"),
            Some(error) => tracing::debug!(%error, ?elapsed, "call failed"),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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
            let mut locked = self.lock().await;
            let result = self.enumerate_locked(&mut locked.state, resource_uri).await;
            locked.finish(result.as_ref().err());
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
                    match interpret(&reply, self.inner.config.limits, client::parse_amt_version) {
                        // A fault comes after authentication: the login was accepted.
                        Ok(_) | Err(Error::Fault(_)) => Ok(()),
                        Err(other) => Err(other),
                    }
                });
            locked.finish(result.as_ref().err());
            result
        }
        .instrument(span)
        .await
    }

    /// Asks the device to change the power state (Invoke
    /// `CIM_PowerManagementService.RequestPowerStateChange` with `PowerState` = `power_state`)
    /// and returns its `ReturnValue`. [`ReturnValue::Completed`] does not prove the change
    /// happened: read the state back.
    ///
    /// **At most once.** `on_send` runs each time the authenticated request is handed to a
    /// connection (start the cooldown there). Once it may have been written, the request is
    /// never sent again, whatever follows (timeout, reset, HTTP 5xx, a bad reply). It is sent
    /// again, and `on_send` runs again (take its last run as the send time), only after a 401,
    /// which proves the device did not act (its new challenge is answered once), or when hyper
    /// hands the request back unwritten because the kept-alive connection turned out closed (it
    /// then goes once over a new connection). On failure, [`Error::may_have_reached_device`]
    /// says whether the device may have acted.
    pub async fn request_power_state_change(
        &self,
        power_state: u16,
        on_send: &mut (dyn FnMut() + Send),
    ) -> Result<ReturnValue, Error> {
        let span = self.span("RequestPowerStateChange");
        async {
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
                });
            locked.finish(result.as_ref().err());
            result.map(ReturnValue::from_code)
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
            queued_ms = field::Empty,
            duration_ms = field::Empty,
        )
    }

    /// Takes the session's turn (calls queue in order).
    async fn lock(&self) -> Locked<'_> {
        let queued_since = Instant::now();
        let mut state = self.inner.state.lock().await;
        let acquired = Instant::now();
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
            acquired,
            queued: acquired.saturating_duration_since(queued_since),
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
            let mut locked = self.lock().await;
            let result = self
                .exchange(&mut locked.state, &call, Delivery::Read)
                .await
                .and_then(|reply| interpret(&reply, self.inner.config.limits, parse));
            locked.finish(result.as_ref().err());
            result
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
        // Whether an earlier attempt of this call may have reached the device; only a read is
        // ever made again after such an attempt.
        let mut earlier_at_risk = false;
        loop {
            let connection = connected(slot, config, &deadline)
                .await
                .map_err(|e| e.after_attempt_at_risk(earlier_at_risk))?;
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
                    Error::protocol_unsent(format_args!(
                        "the digest challenge cannot be answered: {e}"
                    ))
                    .after_attempt_at_risk(earlier_at_risk)
                })?;
            let authenticated = authorization.is_some();
            let nonce_use = authorization.as_ref().map(Authorization::nonce_use);
            let request = http_request(&authority, body, authorization.as_ref())
                .map_err(|e| e.after_attempt_at_risk(earlier_at_risk))?;
            let reused = connection.replies > 0;
            let attempt = Attempt {
                // Intel AMT acts on no request without credentials, so until the device
                // answers, only an authenticated request puts it at risk.
                request_sent: earlier_at_risk || authenticated,
                // Under TLS 1.3 a server's refusal of our missing certificate arrives after
                // the handshake, as the first thing read.
                handshake_verdict_pending: connection.tls13 && connection.replies == 0,
                client_certificate_requested: connection.client_certificate_requested,
            };

            if authenticated && let Delivery::AtMostOnce(on_send) = &mut delivery {
                on_send();
            }
            connection.in_flight = true;
            let sending = connection.sender.try_send_request(request);
            let response = match timeout_at(deadline.end(), sending).await {
                Ok(Ok(response)) => response,
                Err(_elapsed) => {
                    *slot = None;
                    return Err(deadline.timeout(attempt.request_sent));
                }
                Ok(Err(mut failed)) => {
                    // hyper hands the request back only when it never began to serialise it
                    // (it was still queued when the connection turned out closed): then not a
                    // byte of it left, and sending it on a new connection sends it once.
                    let written = failed.take_message().is_none();
                    let error = error::from_hyper(
                        failed.error(),
                        Attempt {
                            request_sent: earlier_at_risk || (written && authenticated),
                            ..attempt
                        },
                    );
                    *slot = None;
                    if may_resend(&delivery, written, reused, resent_after_close, &error) {
                        tracing::debug!(%error, written, "the connection was found closed; sending again once");
                        resent_after_close = true;
                        earlier_at_risk |= written && authenticated;
                        continue;
                    }
                    return Err(error);
                }
            };

            let (parts, incoming) = response.into_parts();
            // The span's status is recorded as soon as it is known, so that a call failing
            // after it still shows it; a 401 that is answered is left out, since the next
            // reply's status is the call's.
            let status = parts.status.as_u16();
            let record_status = || {
                tracing::Span::current().record("status", status);
            };
            self.note_server_header(&parts.headers);
            if parts.status == StatusCode::UNAUTHORIZED {
                // AMT's 401 closes the connection; its HTML body says nothing more. It proves
                // the device did not act on this request.
                *slot = None;
                let challenges: Vec<&str> = parts
                    .headers
                    .get_all(WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .collect();
                let verdict = digest.on_unauthorized(nonce_use, challenges).map_err(|e| {
                    record_status();
                    Error::protocol_unsent(format_args!(
                        "the 401 carries no usable digest challenge: {e}"
                    ))
                    .after_attempt_at_risk(earlier_at_risk)
                })?;
                tracing::debug!(?nonce_use, ?verdict, "401");
                if verdict.should_retry() && !challenge_answered {
                    challenge_answered = true;
                    continue;
                }
                record_status();
                match verdict {
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

            record_status();
            // Anything but a challenge means the device took the request in, with or without
            // credentials: from here on every failure may follow its acting on it.
            let answered = Attempt {
                request_sent: true,
                handshake_verdict_pending: false,
                client_certificate_requested: false,
            };
            let limit = config.max_body_bytes;
            // A declared length over the limit is refused before a byte of the body is read.
            let declared = incoming.size_hint().lower();
            if declared > u64::try_from(limit).unwrap_or(u64::MAX) {
                *slot = None;
                return Err(Error::protocol(format_args!(
                    "the reply body ({declared} bytes declared) exceeds the limit of {limit} bytes"
                )));
            }
            let collect = Limited::new(incoming, limit).collect();
            let body = match timeout_at(deadline.end(), collect).await {
                Ok(Ok(collected)) => collected.to_bytes(),
                Err(_elapsed) => {
                    *slot = None;
                    return Err(deadline.timeout(true));
                }
                Ok(Err(failure)) => {
                    *slot = None;
                    return Err(if failure.is::<LengthLimitError>() {
                        body_too_large(limit)
                    } else if let Some(hyper_error) = failure.downcast_ref::<hyper::Error>() {
                        error::from_hyper(hyper_error, answered)
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
                authenticated,
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
        .map_err(|e| error::from_hyper(&e, Attempt::default()))?;
    let driver = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::trace!(%error, "connection ended");
        }
    });
    // A fresh connection is ready at once; this only lets hyper say so.
    if let Ok(Err(e)) = timeout_at(deadline.end(), sender.ready()).await {
        return Err(error::from_hyper(
            &e,
            Attempt {
                request_sent: false,
                handshake_verdict_pending: established.tls13,
                client_certificate_requested: established.client_certificate_requested,
            },
        ));
    }
    Ok(Connection {
        sender,
        driver,
        replies: 0,
        client_certificate_requested: established.client_certificate_requested,
        tls13: established.tls13,
        in_flight: false,
    })
}

/// Whether a request whose connection failed may be made again, on a new connection: once per
/// call, when the connection broke (closed or reset, not a timeout or a TLS verdict), and
/// either hyper handed the request back unwritten (not a byte of it left, so even a power
/// change is still sent at most once) or it is a read on a kept-alive connection that the
/// device had closed under it.
fn may_resend(
    delivery: &Delivery<'_>,
    written: bool,
    reused: bool,
    already_resent: bool,
    error: &Error,
) -> bool {
    !already_resent
        && error.is_broken_connection()
        && (!written || (matches!(delivery, Delivery::Read) && reused))
}

fn body_too_large(limit: usize) -> Error {
    Error::protocol(format_args!(
        "the reply body exceeds the limit of {limit} bytes"
    ))
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
        200 => parse(&reply.body, &reply.message_id, limits).map_err(|error| match error {
            // SOAP over HTTP (SOAP 1.2 part 2, section 7.5) never sends a fault with 200.
            amt_wsman::Error::Fault(fault) => {
                Error::protocol(format_args!("HTTP 200 with a SOAP fault ({fault})"))
            }
            other => from_wsman(other),
        }),
        // Intel AMT sends faults with 400; SOAP 1.2's HTTP binding, which other WS-Management
        // services follow, sends those not caused by the request with 500.
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
    fn faults_come_with_400_or_500_and_not_with_200() {
        for status in [400, 500] {
            let read = interpret(
                &reply(status, &fault_body()),
                Limits::DEFAULT,
                client::parse_power_state,
            );
            assert!(matches!(read, Err(Error::Fault(_))), "{status}: {read:?}");
        }
        let ok = interpret(
            &reply(200, &fault_body()),
            Limits::DEFAULT,
            client::parse_power_state,
        );
        assert!(
            matches!(ok, Err(Error::Protocol { ref detail, request_sent: true })
                if detail.contains("HTTP 200 with a SOAP fault") && detail.contains("AccessDenied")),
            "{ok:?}"
        );
        let empty = interpret(&reply(500, b""), Limits::DEFAULT, client::parse_power_state);
        assert!(matches!(empty, Err(Error::Protocol { detail, .. }) if detail.contains("500")));
    }

    #[test]
    fn only_a_broken_connection_is_resent_and_a_written_power_change_never() {
        let closed = Error::Unreachable {
            failure: error::NetworkFailure::Closed,
            detail: "closed".into(),
            request_sent: true,
        };
        let timeout = Error::Timeout {
            phase: error::Phase::Request,
            limit: Duration::from_secs(1),
            request_sent: true,
        };
        let mut on_send = || {};
        let power = Delivery::AtMostOnce(&mut on_send);
        // (written, reused, already resent, error) -> resent?
        assert!(may_resend(&power, false, true, false, &closed));
        assert!(may_resend(&power, false, false, false, &closed));
        assert!(!may_resend(&power, true, true, false, &closed));
        assert!(!may_resend(&power, false, true, true, &closed));
        assert!(!may_resend(&power, false, true, false, &timeout));
        assert!(may_resend(&Delivery::Read, true, true, false, &closed));
        assert!(may_resend(&Delivery::Read, false, false, false, &closed));
        assert!(!may_resend(&Delivery::Read, true, false, false, &closed));
        assert!(!may_resend(&Delivery::Read, true, true, true, &closed));
    }

    #[test]
    fn redirects_and_other_statuses_are_protocol_errors() {
        let mut redirect = reply(302, b"");
        redirect
            .headers
            .insert(LOCATION, HeaderValue::from_static("https://elsewhere/"));
        let read = interpret(&redirect, Limits::DEFAULT, client::parse_power_state);
        assert!(
            matches!(read, Err(Error::Protocol { ref detail, .. }) if detail.contains("elsewhere") && detail.contains("not followed")),
            "{read:?}"
        );
        let read = interpret(&reply(404, b""), Limits::DEFAULT, client::parse_power_state);
        assert!(matches!(read, Err(Error::Protocol { detail, .. }) if detail.contains("404")));
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

    /// A session with `device`, trusting its CA.
    fn session_with(device: &amt_sim::SimDevice, password: &str) -> Session {
        let root = amt_trust::ProviderRoot::from_pem(device.ca_pem()).unwrap();
        let tls = crate::tls_config(
            Arc::new(amt_trust::TrustPolicy::new(root)),
            &amt_trust::ClientTlsOptions::new(),
        );
        let mut config = SessionConfig::new(
            Host::parse("127.0.0.1").unwrap(),
            tls,
            "admin",
            secrecy::SecretString::from(password.to_owned()),
        );
        config.port = device.addr().port();
        config.timeouts = crate::Timeouts::uniform(Duration::from_secs(5));
        Session::new(config)
    }

    /// A kept-alive connection that the device has closed, which its driver notices only once
    /// a request is queued: nothing to read until `closed` is set (and no wake-up then), the
    /// end of the stream after it. Counts the bytes written to it.
    struct ClosedUnderneath {
        closed: Arc<AtomicBool>,
        written: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl tokio::io::AsyncRead for ClosedUnderneath {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            _buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.closed.load(Ordering::SeqCst) {
                std::task::Poll::Ready(Ok(()))
            } else {
                std::task::Poll::Pending
            }
        }
    }

    impl tokio::io::AsyncWrite for ClosedUnderneath {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.written.fetch_add(buf.len(), Ordering::SeqCst);
            std::task::Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_power_change_handed_back_unwritten_is_sent_once_on_a_new_connection() {
        const PASSWORD: &str = "P@ssw0rd-Unit1";
        let ca = amt_sim::SimCa::generate("session unit test CA").unwrap();
        let device = amt_sim::SimDevice::start(
            amt_sim::DeviceConfig::new(PASSWORD).on("127.0.0.1:0".parse().unwrap()),
            &ca,
        )
        .await
        .unwrap();
        let session = session_with(&device, PASSWORD);
        session.power_status().await.unwrap();

        // Swap the kept-alive connection for one the device has closed unnoticed.
        let closed = Arc::new(AtomicBool::new(false));
        let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stream = ClosedUnderneath {
            closed: Arc::clone(&closed),
            written: Arc::clone(&written),
        };
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        sender.ready().await.unwrap();
        session.inner.state.lock().await.connection = Some(Connection {
            sender,
            driver,
            replies: 1,
            client_certificate_requested: false,
            tls13: false,
            in_flight: false,
        });
        closed.store(true, Ordering::SeqCst);

        let before = device.counters();
        let mut sends = 0;
        let value = session
            .request_power_state_change(10, &mut || sends += 1)
            .await
            .unwrap();
        assert_eq!(value, ReturnValue::Completed);
        assert_eq!(
            written.load(Ordering::SeqCst),
            0,
            "nothing went to the closed one"
        );
        // Handed to the closed connection (and given back), then to the new one: the last
        // call is the send time.
        assert_eq!(sends, 2);
        let after = device.counters();
        assert_eq!(after.total_invokes() - before.total_invokes(), 1, "{after}");
        assert_eq!(after.requests - before.requests, 1, "{after}");
        assert_eq!(after.tcp_connections - before.tcp_connections, 1, "{after}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_for_a_turn_is_counted_apart_from_the_call() {
        let ca = amt_sim::SimCa::generate("session unit test CA").unwrap();
        let root = amt_trust::ProviderRoot::from_pem(ca.cert_pem()).unwrap();
        let tls = crate::tls_config(
            Arc::new(amt_trust::TrustPolicy::new(root)),
            &amt_trust::ClientTlsOptions::new(),
        );
        let session = Session::new(SessionConfig::new(
            Host::parse("192.0.2.7").unwrap(),
            tls,
            "admin",
            secrecy::SecretString::from("unused"),
        ));
        let busy = session.inner.state.lock().await;
        let queued = {
            let session = session.clone();
            tokio::spawn(async move {
                let locked = session.lock().await;
                (locked.queued, locked.acquired.elapsed())
            })
        };
        // The queued call starts waiting; seven (virtual) seconds pass before its turn.
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_secs(7)).await;
        drop(busy);
        let (queued, since_turn) = queued.await.unwrap();
        assert_eq!(queued, Duration::from_secs(7));
        assert_eq!(since_turn, Duration::ZERO);
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
