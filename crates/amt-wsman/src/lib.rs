//! `amt-wsman`: WS-Management SOAP 1.2 for Intel AMT: build and parse requests and responses, client and device side (sans-IO). Built by its issue; not yet implemented.
