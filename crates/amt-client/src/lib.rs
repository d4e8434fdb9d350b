//! `amt-client`: One Intel AMT device session over HTTPS: TLS, HTTP/1.1 keep-alive, digest, typed WS-Management calls. Built by its issue; not yet implemented.
