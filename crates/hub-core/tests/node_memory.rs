//! Heap use on the fan-out hot path: a publish allocates nothing per
//! recipient.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use switchboard_hub_core::presence::ClientInfo;
use switchboard_hub_core::{Node, NodeConfig, SessionId, Settings};
use switchboard_testkit::alloc::{CountingAllocator, ThreadMeter};

#[global_allocator]
static ALLOCATOR: CountingAllocator<ThreadMeter> = CountingAllocator::new(ThreadMeter);

const SUBSCRIBERS: u64 = 10_000;

#[test]
fn publish_to_ten_thousand_subscribers_allocates_nothing_per_recipient() {
    let now = Instant::now();
    let mut node = Node::new(Settings::new(NodeConfig::default()).unwrap(), 7);
    let info = Arc::new(ClientInfo::default());
    for session in 0..SUBSCRIBERS {
        node.subscribe(now, SessionId(session), "fanout", info.clone(), None)
            .unwrap();
    }
    // Fill the history window so that later appends only rotate it.
    let payload = Bytes::from_static(b"{\"price\":42}");
    for _ in 0..200 {
        node.publish(now, "fanout", payload.clone(), None).unwrap();
    }
    let (delivered, peak) = ALLOCATOR.meter().peak_allocation(|| {
        let outcome = node.publish(now, "fanout", payload.clone(), None).unwrap();
        outcome.recipients.len()
    });
    assert_eq!(delivered, SUBSCRIBERS as usize);
    assert!(
        peak < 1024,
        "one publish to {SUBSCRIBERS} subscribers held {peak} bytes"
    );
}
