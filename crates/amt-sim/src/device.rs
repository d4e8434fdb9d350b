//! One simulated device: its configuration, its handle, and how it answers requests.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use amt_digest::{
    Credentials, QopOffer, Realm, Request as DigestRequest, Verifier, VerifierConfig,
};
use amt_power::{AmtVersion, PowerState};
use amt_wsman::{
    Call, Element, EndpointReference, EnumerationContext, Fault, Identity, Limits, MessageId,
    PowerCapabilities, PowerStatus, PullResponse, Response as WsResponse, SelectorSet,
    SoftwareIdentity, device as wsdevice, fault_detail, resource,
};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use secrecy::SecretString;

use crate::counters::{CounterSnapshot, Counters};
use crate::fault::{Fault as InjectedFault, FaultRule, take_faults};
use crate::lockout::LoginThrottle;
use crate::power::{PowerModel, Timing};
use crate::{LeafSpec, SimClock};

/// The default listen address: where AMT listens for TLS.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 16993);

/// The largest request body a device reads.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

/// Which TLS a device speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsProfile {
    /// TLS 1.3 and 1.2 (rustls, ECDHE suites).
    #[default]
    Modern,
    /// TLS 1.2 only, as Intel AMT 13 to 18 firmware speaks it.
    Tls12Only,
    /// Emulates Intel AMT 12 and older facing a modern client: every ClientHello is answered
    /// with a `protocol_version` alert. (Real legacy listeners come with the `legacy-tls`
    /// feature.)
    RefuseModern,
    /// Intel AMT 11 and older (cargo feature `legacy-tls`; OpenSSL): TLS 1.1 only, RSA key
    /// exchange only (`AES128-SHA`, `AES256-SHA`), an RSA-2048 certificate, renegotiation
    /// refused.
    #[cfg(feature = "legacy-tls")]
    LegacyAmt11,
    /// Intel AMT 12 (cargo feature `legacy-tls`; OpenSSL): TLS 1.2 only, RSA key exchange only
    /// (AES-GCM, AES-CBC with SHA-256 or SHA-1), an RSA-2048 certificate, renegotiation
    /// refused.
    #[cfg(feature = "legacy-tls")]
    LegacyAmt12,
}

impl TlsProfile {
    /// Whether the device speaks through OpenSSL's legacy listener.
    pub fn is_legacy(self) -> bool {
        match self {
            Self::Modern | Self::Tls12Only | Self::RefuseModern => false,
            #[cfg(feature = "legacy-tls")]
            Self::LegacyAmt11 | Self::LegacyAmt12 => true,
        }
    }
}

/// How a simulated device behaves. Build one with [`DeviceConfig::new`] and adjust its fields.
#[derive(Clone)]
#[non_exhaustive]
pub struct DeviceConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The digest user name (AMT's is `admin`).
    pub username: String,
    /// The digest password.
    pub password: SecretString,
    /// The firmware version: it sets the `Server` header, `CIM_SoftwareIdentity`, Identify, the qop
    /// offer (`auth-int, auth` from AMT 14) and whether `IPS_PowerManagementService` exists (AMT 10+).
    pub amt_version: AmtVersion,
    /// The power state at start.
    pub power_state: PowerState,
    /// Whether the OS agent (Intel LMS) runs: the graceful operations need it.
    pub lms: bool,
    /// Whether a redirection session (KVM, SOL, IDE-R) is open.
    pub redirection_session: bool,
    /// Whether the OS reports power saving (`OSPowerSavingState` 3) while the platform is on.
    pub os_power_saving: bool,
    /// Firmware quirk: graceful operations without LMS answer 0 and do nothing.
    pub graceful_noop_without_lms: bool,
    /// How long accepted power changes take.
    pub timing: Timing,
    /// The device's TLS certificate.
    pub leaf: LeafSpec,
    /// The TLS the device speaks.
    pub tls: TlsProfile,
    /// Demand a client certificate (mutual TLS), which AMT can be configured to do and the
    /// product does not support.
    pub require_client_certificate: bool,
    /// The digest realm; `None` draws a random `Digest:<32 hex>` realm, fixed for the device's life.
    pub realm: Option<Realm>,
    /// How long a digest nonce is accepted.
    pub nonce_lifetime: Duration,
    /// Answer a request whose nonce has only expired with `stale="true"`, as RFC 7616 describes.
    /// Off by default, as on real AMT, whose every observed challenge says `stale="false"`:
    /// clients must recover from a 401 on a cached nonce without the hint.
    pub announce_stale_nonces: bool,
    /// Close each keep-alive connection after this many requests (AMT-like resource limits).
    pub close_after_requests: Option<u32>,
    /// Faults to commit from the start (more can be added through [`crate::SimDevice::inject`]).
    pub faults: Vec<FaultRule>,
    /// The clock for power transitions, nonce expiry and login lockout.
    pub clock: SimClock,
}

impl std::fmt::Debug for DeviceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceConfig")
            .field("listen", &self.listen)
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("amt_version", &self.amt_version.to_string())
            .field("power_state", &self.power_state)
            .field("lms", &self.lms)
            .field("redirection_session", &self.redirection_session)
            .field("leaf", &self.leaf)
            .finish_non_exhaustive()
    }
}

impl DeviceConfig {
    /// A device on 127.0.0.1:16993 for user `admin` with this password: AMT 16.1.25, on, LMS
    /// running, a certificate for `localhost` and 127.0.0.1.
    pub fn new(password: impl Into<String>) -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            username: "admin".to_owned(),
            password: SecretString::from(password.into()),
            amt_version: AmtVersion::new(&[16, 1, 25]).unwrap_or_else(|_| unreachable_version()),
            power_state: PowerState::On,
            lms: true,
            redirection_session: false,
            os_power_saving: false,
            graceful_noop_without_lms: false,
            timing: Timing::default(),
            leaf: LeafSpec::default(),
            tls: TlsProfile::Modern,
            require_client_certificate: false,
            realm: None,
            nonce_lifetime: VerifierConfig::DEFAULT_NONCE_LIFETIME,
            announce_stale_nonces: false,
            close_after_requests: None,
            faults: Vec::new(),
            clock: SimClock::real(),
        }
    }

    /// The same configuration on another address (port 0 for any free port).
    #[must_use]
    pub fn on(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }
}

/// `AmtVersion::new` only fails for a wrong number of components; three are right.
fn unreachable_version() -> AmtVersion {
    AmtVersion::new(&[0, 0]).unwrap_or_else(|_| unreachable!("two components are valid"))
}

/// What a device keeps while it runs.
pub(crate) struct DeviceCore {
    pub(crate) addr: SocketAddr,
    username: String,
    password: SecretString,
    amt_version: AmtVersion,
    server_header: HeaderValue,
    realm: Realm,
    os_power_saving: bool,
    announce_stale_nonces: bool,
    close_after_requests: Option<u32>,
    pub(crate) counters: Counters,
    pub(crate) clock: SimClock,
    state: Mutex<DeviceState>,
    faults: Mutex<Vec<FaultRule>>,
}

struct DeviceState {
    power: PowerModel,
    requested: Option<u16>,
    verifier: Verifier,
    throttle: LoginThrottle,
    next_message_id: u64,
    enumerations: VecDeque<(EnumerationContext, VecDeque<Element>)>,
    next_enumeration: u64,
}

/// Open enumerations a device remembers; AMT serves very few at a time.
const MAX_ENUMERATIONS: usize = 8;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn random_bytes(buf: &mut [u8]) {
    // The OS random source failing is not something a simulator can recover from sensibly;
    // fall back to a counter-derived pattern so the device keeps answering.
    if getrandom::fill(buf).is_err() {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = i as u8;
        }
    }
}

impl DeviceCore {
    pub(crate) fn new(config: &DeviceConfig, addr: SocketAddr) -> Self {
        let realm = config.realm.clone().unwrap_or_else(|| {
            let mut id = [0u8; 16];
            random_bytes(&mut id);
            Realm::amt(id)
        });
        let mut verifier_config = VerifierConfig::new(realm.clone());
        if config.amt_version.major() >= 14 {
            verifier_config.qop = QopOffer::AUTH_INT_AND_AUTH;
        }
        verifier_config.nonce_lifetime = config.nonce_lifetime;
        let mut power = PowerModel::new(config.power_state, config.lms);
        power.amt_major_version = config.amt_version.major();
        power.redirection_session = config.redirection_session;
        power.graceful_noop_without_lms = config.graceful_noop_without_lms;
        power.timing = config.timing;
        let server = format!(
            "Intel(R) Active Management Technology {}",
            config.amt_version
        );
        Self {
            addr,
            username: config.username.clone(),
            password: config.password.clone(),
            amt_version: config.amt_version.clone(),
            server_header: HeaderValue::from_str(&server).unwrap_or_else(|_| {
                HeaderValue::from_static("Intel(R) Active Management Technology")
            }),
            realm,
            os_power_saving: config.os_power_saving,
            announce_stale_nonces: config.announce_stale_nonces,
            close_after_requests: config.close_after_requests,
            counters: Counters::default(),
            clock: config.clock.clone(),
            state: Mutex::new(DeviceState {
                power,
                requested: None,
                verifier: Verifier::new(verifier_config),
                throttle: LoginThrottle::default(),
                next_message_id: 1,
                enumerations: VecDeque::new(),
                next_enumeration: 1,
            }),
            faults: Mutex::new(config.faults.clone()),
        }
    }

    pub(crate) fn close_after_requests(&self) -> Option<u32> {
        self.close_after_requests
    }

    fn response(
        &self,
        status: StatusCode,
        content_type: &'static str,
        body: Bytes,
    ) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::SERVER, self.server_header.clone());
        if !content_type.is_empty() {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        response
    }

    fn soap(&self, status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
        self.response(
            status,
            "application/soap+xml;charset=UTF-8",
            Bytes::from(body),
        )
    }

    fn unauthorized(&self, challenge: String) -> Response<Full<Bytes>> {
        Counters::bump(&self.counters.unauthorized);
        let mut response = self.response(
            StatusCode::UNAUTHORIZED,
            "text/html",
            Bytes::from_static(UNAUTHORIZED_PAGE),
        );
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    }

    /// Answers one HTTP request. `Err` tells the connection to close without answering.
    pub(crate) async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Response<Full<Bytes>>, DropConnection> {
        Counters::bump(&self.counters.requests);
        if request.uri().path() != "/wsman" {
            return Ok(self.response(
                StatusCode::NOT_FOUND,
                "text/html",
                Bytes::from_static(b"<html><body>Not Found</body></html>"),
            ));
        }
        if request.method() != Method::POST {
            return Ok(self.response(StatusCode::METHOD_NOT_ALLOWED, "", Bytes::new()));
        }
        let uri = request
            .uri()
            .path_and_query()
            .map_or_else(|| "/wsman".to_owned(), ToString::to_string);
        let authorization = request.headers().get(header::AUTHORIZATION).cloned();
        let body = match Limited::new(request.into_body(), MAX_REQUEST_BODY)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return Ok(self.response(StatusCode::PAYLOAD_TOO_LARGE, "", Bytes::new()));
            }
        };

        if let Some(challenge) = self.authenticate(authorization.as_ref(), &uri, &body) {
            return Ok(self.unauthorized(challenge));
        }

        let parsed = wsdevice::parse_request(&body, Limits::default());
        let is_power_change = matches!(
            parsed.as_ref().map(|r| &r.call),
            Ok(Ok(Call::RequestPowerStateChange { .. }))
        );
        let injected = take_faults(&mut lock(&self.faults), is_power_change);
        self.counters
            .faults
            .fetch_add(injected.fired, std::sync::atomic::Ordering::Relaxed);
        if !injected.latency.is_zero() {
            let mut shutdown = shutdown.clone();
            tokio::select! {
                () = self.clock.sleep(injected.latency) => {}
                _ = shutdown.changed() => return Err(DropConnection),
            }
        }
        let fault = injected.fault;
        match fault {
            Some(InjectedFault::Stall) => {
                let mut shutdown = shutdown;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                    _ = shutdown.changed() => {}
                }
                return Err(DropConnection);
            }
            Some(InjectedFault::Http500) => {
                return Ok(self.response(StatusCode::INTERNAL_SERVER_ERROR, "", Bytes::new()));
            }
            Some(InjectedFault::SoapFault(fault)) => {
                let relates_to = parsed.as_ref().ok().and_then(|r| r.message_id.clone());
                let body =
                    wsdevice::build_fault(&fault, relates_to.as_ref(), &self.next_message_id());
                return Ok(self.soap(StatusCode::BAD_REQUEST, body));
            }
            _ => {}
        }

        let (status, reply) = match parsed {
            Ok(request) => self.answer(&request),
            Err(error) => {
                let fault = Fault::sender(
                    amt_wsman::QualifiedName::new(amt_wsman::ns::WSMAN, "SchemaValidationError"),
                    format!("The request could not be read: {error}"),
                );
                (
                    StatusCode::BAD_REQUEST,
                    wsdevice::build_fault(&fault, None, &self.next_message_id()),
                )
            }
        };
        match fault {
            Some(InjectedFault::DropConnection) => Err(DropConnection),
            Some(InjectedFault::MalformedXml) => Ok(self.soap(
                StatusCode::OK,
                b"<a:Envelope xmlns:a=\"http://www.w3.org/2003/05/soap-envelope\"><a:Body><broken"
                    .to_vec(),
            )),
            Some(InjectedFault::OversizedBody(size)) => {
                let mut body = reply;
                let filler = size.saturating_sub(body.len() + 7);
                body.extend_from_slice(b"<!--");
                body.resize(body.len() + filler, b'x');
                body.extend_from_slice(b"-->");
                Ok(self.soap(StatusCode::OK, body))
            }
            _ => Ok(self.soap(status, reply)),
        }
    }

    /// Checks the request's credentials; returns the challenge to answer with when they fail.
    fn authenticate(
        &self,
        authorization: Option<&HeaderValue>,
        uri: &str,
        body: &[u8],
    ) -> Option<String> {
        let now = self.clock.now();
        let mut state = lock(&self.state);
        // A request without credentials is no login: it is challenged, locked out or not.
        let Some(value) = authorization.and_then(|v| v.to_str().ok()) else {
            return Some(state.verifier.challenge(now, &mut random_bytes));
        };
        if state.throttle.locked_for(now).is_some() {
            Counters::bump(&self.counters.lockout_refusals);
            return Some(state.verifier.challenge(now, &mut random_bytes));
        }
        let request = DigestRequest::new("POST", uri).with_body(body);
        let credentials = Credentials::new(&self.username, &self.password);
        match state.verifier.verify(value, &request, &credentials, now) {
            Ok(_) => {
                state.throttle.record_success();
                None
            }
            Err(rejection) => {
                if rejection.is_failed_login() {
                    Counters::bump(&self.counters.failed_logins);
                    state.throttle.record_failure(now);
                }
                Some(if self.announce_stale_nonces {
                    state
                        .verifier
                        .challenge_after(&rejection, now, &mut random_bytes)
                } else {
                    state.verifier.challenge(now, &mut random_bytes)
                })
            }
        }
    }

    fn next_message_id(&self) -> MessageId {
        let mut state = lock(&self.state);
        let id = state.next_message_id;
        state.next_message_id += 1;
        MessageId::amt(id)
    }

    fn software_identities(&self) -> Vec<SoftwareIdentity> {
        let parts = self.amt_version.components();
        let core: Vec<String> = parts.iter().take(3).map(ToString::to_string).collect();
        let core = core.join(".");
        let build = parts
            .get(3)
            .map_or_else(|| "1000".to_owned(), ToString::to_string);
        let identity = |id: &str, version: &str| SoftwareIdentity {
            instance_id: id.to_owned(),
            version_string: version.to_owned(),
            is_entity: Some(true),
        };
        vec![
            identity("Flash", &core),
            identity("Netstack", &core),
            identity("AMTApps", &core),
            identity(SoftwareIdentity::AMT_INSTANCE_ID, &core),
            identity("Sku", "16392"),
            identity("VendorID", "8086"),
            identity("Build Number", &build),
        ]
    }

    fn power_status(&self, state: &mut DeviceState) -> PowerStatus {
        let now = self.clock.now();
        let power_state = state.power.state(now).code();
        PowerStatus {
            power_state,
            available_requested_power_states: state.power.available(now),
            requested_power_state: Some(state.requested.unwrap_or(power_state)),
        }
    }

    fn capabilities(&self) -> PowerCapabilities {
        let major = self.amt_version.major();
        let mut changes = vec![3, 4, 7];
        let mut states = vec![2, 8, 10, 5, 11];
        if major >= 9 {
            changes.push(8);
            states.push(12);
        }
        if major >= 10 {
            states.extend([14, 4, 7]);
        }
        PowerCapabilities {
            power_change_capabilities: changes,
            power_states_supported: states.clone(),
            requested_power_states_supported: states,
        }
    }

    /// Answers an authenticated, readable request: the status and the body.
    fn answer(&self, request: &wsdevice::Request) -> (StatusCode, Vec<u8>) {
        let relates_to = request.message_id.as_ref();
        let outcome = match &request.call {
            Ok(call) => self.dispatch(call, &request.selectors),
            Err(amt_wsman::Error::UnsupportedAction { .. }) => Err(Fault::action_not_supported()),
            Err(amt_wsman::Error::InvalidSelectors { .. }) => Err(Fault::invalid_selectors()),
            Err(error) => Err(Fault::sender(
                amt_wsman::QualifiedName::new(amt_wsman::ns::WSMAN, "SchemaValidationError"),
                format!("The request could not be understood: {error}"),
            )),
        };
        let id = self.next_message_id();
        match outcome {
            Ok(response) => (
                StatusCode::OK,
                wsdevice::build_response(&response, relates_to, &id),
            ),
            Err(fault) => (
                StatusCode::BAD_REQUEST,
                wsdevice::build_fault(&fault, relates_to, &id),
            ),
        }
    }

    #[expect(
        clippy::result_large_err,
        reason = "a fault is the normal answer here, built once per request and written at once"
    )]
    fn dispatch(&self, call: &Call, selectors: &SelectorSet) -> Result<WsResponse, Fault> {
        let now = self.clock.now();
        match call {
            Call::PowerState => Ok(WsResponse::PowerState(
                self.power_status(&mut lock(&self.state)),
            )),
            Call::RequestPowerStateChange {
                power_state,
                managed_element,
            } => {
                check_power_service_selectors(selectors)?;
                check_managed_element(managed_element.as_ref())?;
                self.counters.bump_invoke(*power_state);
                let mut state = lock(&self.state);
                let value = state.power.request(*power_state, now);
                if value.is_accepted() {
                    state.requested = Some(*power_state);
                }
                Ok(WsResponse::RequestPowerStateChange {
                    return_value: value.code(),
                })
            }
            Call::AmtVersion => self
                .software_identities()
                .into_iter()
                .find(|i| i.instance_id == SoftwareIdentity::AMT_INSTANCE_ID)
                .map(WsResponse::AmtVersion)
                .ok_or_else(Fault::destination_unreachable),
            Call::PowerCapabilities => Ok(WsResponse::PowerCapabilities(self.capabilities())),
            Call::OsPowerState => {
                if self.amt_version.major() < 10 {
                    return Err(Fault::destination_unreachable());
                }
                let on = lock(&self.state).power.state(now) == PowerState::On;
                let os_power_saving_state = match (on, self.os_power_saving) {
                    (true, true) => 3,
                    (true, false) => 2,
                    (false, _) => 0,
                };
                Ok(WsResponse::OsPowerState {
                    os_power_saving_state,
                })
            }
            Call::Identify => Ok(WsResponse::Identify(Identity {
                protocol_version: amt_wsman::ns::WSMAN.to_owned(),
                product_vendor: "Intel(r)".to_owned(),
                product_version: format!(
                    "AMT {}.{}",
                    self.amt_version.major(),
                    self.amt_version.minor()
                ),
                dash_version: None,
                security_profiles: vec![
                    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/digest".to_owned(),
                ],
            })),
            Call::Get {
                resource_uri,
                selectors,
            } => {
                if resource_uri == resource::CIM_SOFTWARE_IDENTITY {
                    let wanted = selectors.iter().find(|s| s.name == "InstanceID");
                    return match (wanted, selectors.len()) {
                        (Some(wanted), 1) => self
                            .software_identities()
                            .into_iter()
                            .find(|i| i.instance_id == wanted.value)
                            .map(|i| WsResponse::Get(i.to_element()))
                            .ok_or_else(Fault::invalid_selectors),
                        _ => Err(Fault::invalid_selectors()),
                    };
                }
                if KNOWN_SINGLETONS.contains(&resource_uri.as_str()) {
                    return Err(Fault::invalid_selectors());
                }
                Err(Fault::destination_unreachable())
            }
            Call::Enumerate { resource_uri } => {
                let items: VecDeque<Element> = if resource_uri == resource::CIM_SOFTWARE_IDENTITY {
                    self.software_identities()
                        .iter()
                        .map(SoftwareIdentity::to_element)
                        .collect()
                } else if resource_uri == resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE {
                    VecDeque::from([self.power_status(&mut lock(&self.state)).to_element()])
                } else {
                    return Err(Fault::destination_unreachable());
                };
                let mut state = lock(&self.state);
                // A hex counter in AMT's format is always a valid context.
                let context = EnumerationContext::new(format!(
                    "{:08X}-0000-0000-0000-000000000000",
                    state.next_enumeration
                ))
                .map_err(|_| Fault::invalid_enumeration_context())?;
                state.next_enumeration += 1;
                if state.enumerations.len() >= MAX_ENUMERATIONS {
                    state.enumerations.pop_front();
                }
                state.enumerations.push_back((context.clone(), items));
                Ok(WsResponse::Enumerate {
                    resource_uri: resource_uri.clone(),
                    context,
                })
            }
            Call::Pull {
                resource_uri,
                context,
                max_elements,
            } => {
                let mut state = lock(&self.state);
                let index = state
                    .enumerations
                    .iter()
                    .position(|(known, _)| known == context)
                    .ok_or_else(Fault::invalid_enumeration_context)?;
                let Some((_, items)) = state.enumerations.get_mut(index) else {
                    return Err(Fault::invalid_enumeration_context());
                };
                let take = usize::try_from(*max_elements)
                    .unwrap_or(usize::MAX)
                    .max(1)
                    .min(items.len());
                let page: Vec<Element> = items.drain(..take).collect();
                let end_of_sequence = items.is_empty();
                if end_of_sequence {
                    state.enumerations.remove(index);
                }
                Ok(WsResponse::Pull {
                    resource_uri: resource_uri.clone(),
                    page: PullResponse {
                        items: page,
                        context: (!end_of_sequence).then(|| context.clone()),
                        end_of_sequence,
                    },
                })
            }
            Call::Invoke { resource_uri, .. } => {
                if KNOWN_SINGLETONS.contains(&resource_uri.as_str())
                    || resource_uri == resource::CIM_POWER_MANAGEMENT_SERVICE
                {
                    Err(Fault::action_not_supported())
                } else {
                    Err(Fault::destination_unreachable())
                }
            }
            _ => Err(Fault::action_not_supported()),
        }
    }

    /// The counters now.
    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        self.counters.snapshot()
    }

    pub(crate) fn inject(&self, rule: FaultRule) {
        lock(&self.faults).push(rule);
    }

    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    pub(crate) fn with_power<R>(&self, f: impl FnOnce(&mut PowerModel, Duration) -> R) -> R {
        let now = self.clock.now();
        f(&mut lock(&self.state).power, now)
    }

    pub(crate) fn realm(&self) -> &Realm {
        &self.realm
    }
}

/// The key properties of AMT's power management service and their values: a
/// `RequestPowerStateChange` may select it by any of them (amtc sends all four, others only
/// `Name` or none, and AMT takes all of these), but not by a wrong value or another key.
const POWER_SERVICE_KEYS: [(&str, &str); 4] = [
    ("CreationClassName", "CIM_PowerManagementService"),
    ("Name", "Intel(r) AMT Power Management Service"),
    ("SystemCreationClassName", "CIM_ComputerSystem"),
    ("SystemName", "Intel(r) AMT"),
];

#[expect(
    clippy::result_large_err,
    reason = "a fault is the normal answer here, built once per request and written at once"
)]
fn check_power_service_selectors(selectors: &SelectorSet) -> Result<(), Fault> {
    for (i, selector) in selectors.iter().enumerate() {
        let repeated = selectors.iter().take(i).any(|s| s.name == selector.name);
        match POWER_SERVICE_KEYS
            .iter()
            .find(|(key, _)| *key == selector.name)
        {
            None => {
                return Err(
                    Fault::invalid_selectors().with_detail(fault_detail::UNEXPECTED_SELECTORS)
                );
            }
            Some((_, value)) if repeated || selector.value != *value => {
                return Err(Fault::invalid_selectors().with_detail(fault_detail::INVALID_VALUE));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The `ManagedElement` must be the host, `CIM_ComputerSystem` with `Name=ManagedSystem` (and, if
/// given, `CreationClassName=CIM_ComputerSystem`); its address is not checked, as AMT takes both
/// the anonymous role and the addressing namespace there. A missing or wrong one is refused
/// with a `wsman:InvalidParameter` fault: the message names no host this device manages.
#[expect(
    clippy::result_large_err,
    reason = "a fault is the normal answer here, built once per request and written at once"
)]
fn check_managed_element(managed_element: Option<&EndpointReference>) -> Result<(), Fault> {
    let refused = || Fault::invalid_parameter().with_detail(fault_detail::INVALID_VALUE);
    let host = managed_element.ok_or_else(refused)?;
    if host.resource_uri.as_deref() != Some(resource::CIM_COMPUTER_SYSTEM) {
        return Err(refused());
    }
    let mut named = false;
    for (i, selector) in host.selectors.iter().enumerate() {
        if host
            .selectors
            .iter()
            .take(i)
            .any(|s| s.name == selector.name)
        {
            return Err(refused());
        }
        match (selector.name.as_str(), selector.value.as_str()) {
            ("Name", "ManagedSystem") => named = true,
            ("CreationClassName", "CIM_ComputerSystem") => {}
            _ => return Err(refused()),
        }
    }
    if named { Ok(()) } else { Err(refused()) }
}

/// Classes whose Get takes no selectors.
const KNOWN_SINGLETONS: [&str; 3] = [
    resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE,
    resource::CIM_POWER_MANAGEMENT_CAPABILITIES,
    resource::IPS_POWER_MANAGEMENT_SERVICE,
];

/// The page AMT serves with a 401.
const UNAUTHORIZED_PAGE: &[u8] = b"<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\">\n\
<html><head><title>Intel&reg; Active Management Technology</title></head>\n\
<body><h2>Log on failed. Incorrect user name or password, or user account temporarily locked.</h2>\n\
<p>Try again. Contact your system administrator if you cannot log on.</p></body></html>\n";

/// The service's error: close the connection without answering.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

/// Requests served on one connection, for [`DeviceConfig::close_after_requests`].
#[derive(Debug, Default)]
pub(crate) struct ConnectionRequests(AtomicU32);

impl ConnectionRequests {
    /// Counts a request; whether the connection should close after answering it.
    pub(crate) fn count(&self, limit: Option<u32>) -> bool {
        let served = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        limit.is_some_and(|limit| served >= limit)
    }
}
