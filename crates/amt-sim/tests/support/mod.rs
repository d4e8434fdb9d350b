//! A small HTTPS + Digest + WS-Man client for testing the simulator over real TLS.
//!
//! It is deliberately plain (the product's client is `amt-client`): one connection at a time,
//! the digest challenge cached and answered pre-emptively, raw access for replay tests.

use std::net::SocketAddr;
use std::sync::Arc;

use amt_digest::{Credentials, DigestSession, Request as DigestRequest, Unauthorized};
use amt_sim::SimDevice;
use amt_trust::{ClientTlsOptions, Host, ProviderRoot, TrustError, TrustPolicy, client_config};
use amt_wsman::{Call, MessageId};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use secrecy::SecretString;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A reply as the test sees it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub(crate) struct TestClient {
    tls: Arc<ClientConfig>,
    addr: SocketAddr,
    host: Host,
    user: String,
    password: SecretString,
    pub(crate) digest: DigestSession,
    sender: Option<SendRequest<Full<Bytes>>>,
    next_id: u8,
}

pub(crate) fn tls_config(ca_pem: &str) -> Arc<ClientConfig> {
    let root = ProviderRoot::from_pem(ca_pem).expect("the simulator CA loads");
    client_config(Arc::new(TrustPolicy::new(root)), &ClientTlsOptions::new())
}

impl TestClient {
    pub(crate) fn new(device: &SimDevice, password: &str) -> Self {
        Self::with(
            tls_config(device.ca_pem()),
            device.addr(),
            "127.0.0.1",
            "admin",
            password,
        )
    }

    pub(crate) fn with(
        tls: Arc<ClientConfig>,
        addr: SocketAddr,
        host: &str,
        user: &str,
        password: &str,
    ) -> Self {
        Self {
            tls,
            addr,
            host: Host::parse(host).expect("valid host"),
            user: user.to_owned(),
            password: SecretString::from(password.to_owned()),
            digest: DigestSession::new(),
            sender: None,
            next_id: 0,
        }
    }

    /// Opens a TLS connection; the error is the trust policy's verdict when it refused.
    pub(crate) async fn connect(&mut self) -> Result<(), ConnectError> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(ConnectError::Io)?;
        let tls = TlsConnector::from(Arc::clone(&self.tls))
            .connect(self.host.server_name(), tcp)
            .await
            .map_err(|e| match amt_trust::trust_error_in_io(&e) {
                Some(trust) => ConnectError::Trust(trust.clone()),
                None => ConnectError::Io(e),
            })?;
        let (sender, connection) = http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| ConnectError::Io(std::io::Error::other(e)))?;
        tokio::spawn(connection);
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one request with the given Authorization (or none), reconnecting if needed.
    pub(crate) async fn send_raw(
        &mut self,
        path: &str,
        body: Vec<u8>,
        authorization: Option<&str>,
    ) -> Result<Reply, String> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.connect().await.map_err(|e| format!("{e:?}"))?;
        }
        let sender = self.sender.as_mut().ok_or("no connection")?;
        sender.ready().await.map_err(|e| e.to_string())?;
        let mut request = Request::post(path)
            .header(header::HOST, self.addr.to_string())
            .header(header::CONTENT_TYPE, "application/soap+xml;charset=UTF-8");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| with_sources(&e))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// The Authorization value for the next request with this body, if a challenge is cached.
    pub(crate) fn authorization(&mut self, body: &[u8]) -> Option<(String, amt_digest::NonceUse)> {
        let credentials = Credentials::new(&self.user, &self.password);
        let request = DigestRequest::new("POST", "/wsman").with_body(body);
        let mut random = |buf: &mut [u8]| buf.fill(0x5a);
        self.digest
            .authorize(&credentials, &request, &mut random)
            .expect("a challenge we accepted can be answered")
            .map(|a| (a.as_str().to_owned(), a.nonce_use()))
    }

    /// Sends a body to /wsman with digest handled as a client should: pre-emptive when a
    /// challenge is cached, one retry after a 401 that carries a new challenge.
    pub(crate) async fn post(&mut self, body: Vec<u8>) -> Result<Reply, String> {
        for _ in 0..2 {
            let authorization = self.authorization(&body);
            let nonce_use = authorization.as_ref().map(|(_, used)| *used);
            let value = authorization.as_ref().map(|(value, _)| value.as_str());
            let reply = self.send_raw("/wsman", body.clone(), value).await?;
            if reply.status != StatusCode::UNAUTHORIZED {
                return Ok(reply);
            }
            let challenges = reply
                .headers
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok());
            match self.digest.on_unauthorized(nonce_use, challenges) {
                Ok(verdict) if verdict.should_retry() => continue,
                Ok(Unauthorized::CredentialsRejected { .. }) | Ok(_) | Err(_) => return Ok(reply),
            }
        }
        Err("still unauthorized after answering a fresh challenge".into())
    }

    pub(crate) fn message_id(&mut self) -> MessageId {
        self.next_id = self.next_id.wrapping_add(1);
        MessageId::uuid_v4([self.next_id; 16])
    }

    /// Builds `call`, posts it, returns the reply and the request's MessageID.
    pub(crate) async fn call(&mut self, call: &Call) -> Result<(Reply, MessageId), String> {
        let id = self.message_id();
        let reply = self.post(call.build_request(&id)).await?;
        Ok((reply, id))
    }
}

/// `error` and its sources, so that a TLS alert under a connection error shows.
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&format!("{cause:?}"));
        source = cause.source();
    }
    text
}

#[derive(Debug)]
pub(crate) enum ConnectError {
    Io(std::io::Error),
    Trust(TrustError),
}
