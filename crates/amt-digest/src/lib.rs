//! `amt-digest`: HTTP Digest (RFC 7616/2617) client and verifier, tolerant of Intel AMT's challenges (sans-IO). Built by its issue; not yet implemented.
