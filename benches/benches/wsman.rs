//! WS-Management messages: the two exchanges power management lives on, end to end and step by
//! step.
//!
//! An exchange is: the client builds the request, the device parses it, the device builds its
//! reply in AMT's style, the client parses the reply (with the `RelatesTo` check). No I/O.

use std::hint::black_box;

use amt_wsman::{Call, Limits, MessageId, PowerStatus, Response, client, device};
use criterion::{Criterion, criterion_group, criterion_main};

fn status() -> PowerStatus {
    PowerStatus {
        power_state: 2,
        available_requested_power_states: vec![10, 8, 5, 11, 4, 7, 14, 12],
        requested_power_state: Some(2),
    }
}

/// Runs the whole exchange for `call`, answering with `response`, and returns the client's view.
fn exchange(
    call: &Call,
    response: &Response,
    request_id: &MessageId,
    reply_id: &MessageId,
) -> Response {
    let limits = Limits::default();
    let request = call.build_request(request_id);
    let incoming = device::parse_request(&request, limits).expect("our own request parses");
    assert!(incoming.call.as_ref().is_ok_and(|c| c == call));
    let reply = device::build_response(response, incoming.message_id.as_ref(), reply_id);
    client::parse_response(call, &reply, request_id, limits).expect("our own reply parses")
}

fn bench_exchange(c: &mut Criterion, name: &str, call: &Call, response: &Response) {
    let request_id = MessageId::uuid_v4([0x5a; 16]);
    let reply_id = MessageId::amt(0xA1F4);
    let limits = Limits::default();
    assert_eq!(&exchange(call, response, &request_id, &reply_id), response);

    let mut group = c.benchmark_group(format!("wsman/{name}"));
    group.bench_function("exchange", |b| {
        b.iter(|| exchange(black_box(call), black_box(response), &request_id, &reply_id))
    });

    let request = call.build_request(&request_id);
    let reply = device::build_response(response, Some(&request_id), &reply_id);
    group.bench_function("1_client_build_request", |b| {
        b.iter(|| black_box(call).build_request(&request_id))
    });
    group.bench_function("2_device_parse_request", |b| {
        b.iter(|| device::parse_request(black_box(&request), limits))
    });
    group.bench_function("3_device_build_response", |b| {
        b.iter(|| device::build_response(black_box(response), Some(&request_id), &reply_id))
    });
    group.bench_function("4_client_parse_response", |b| {
        b.iter(|| client::parse_response(call, black_box(&reply), &request_id, limits))
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    bench_exchange(
        c,
        "power_state",
        &Call::PowerState,
        &Response::PowerState(status()),
    );
    bench_exchange(
        c,
        "request_power_state_change",
        &Call::request_power_state_change(8),
        &Response::RequestPowerStateChange { return_value: 0 },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
