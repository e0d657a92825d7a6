//! Heap held by an idle subscribed connection: its `Session` plus its
//! entries in the node. One test in this binary, so that the process-wide
//! meter sees only it.

use std::time::Instant;

use switchboard_hub_core::session::Action;
use switchboard_hub_core::wire::{Command, ConnectRequest, Format, SubscribeRequest};
use switchboard_hub_core::{Node, NodeConfig, Session, SessionId, Settings};
use switchboard_testkit::alloc::{CountingAllocator, ProcessMeter};

#[global_allocator]
static ALLOCATOR: CountingAllocator<ProcessMeter> = CountingAllocator::new(ProcessMeter::new());

const CONNECTIONS: u64 = 1_000;

fn command_frame(command: &Command) -> Vec<u8> {
    serde_json::to_vec(command).unwrap()
}

#[test]
fn idle_subscribed_connection_holds_under_1280_bytes() {
    let settings = Settings::new(NodeConfig::default()).unwrap();
    let now = Instant::now();
    let connect = command_frame(&Command {
        id: 1,
        connect: Some(ConnectRequest::default()),
        ..Command::default()
    });
    let subscribe = command_frame(&Command {
        id: 2,
        subscribe: Some(SubscribeRequest {
            channel: "prices".into(),
            ..SubscribeRequest::default()
        }),
        ..Command::default()
    });
    let mut node = Node::new(settings.clone(), 1);
    let mut sessions = Vec::with_capacity(CONNECTIONS as usize);
    let before = ALLOCATOR.meter().live();
    for index in 0..CONNECTIONS {
        let client_id = format!("0b9c4a7e-2f1d-4c55-9a51-{index:012}");
        let mut session = Session::new(settings.clone(), Format::Json, client_id, now);
        session.handle_frame(now, &connect);
        session.handle_frame(now, &subscribe);
        assert!(session.has_actions(), "a subscribe is an action");
        while let Some(action) = session.poll_action() {
            if let Action::Subscribe {
                id,
                channel,
                recover,
                info,
                ..
            } = action
            {
                let result = node.subscribe(now, SessionId(index), &channel, info, recover);
                session.subscribed(id, &channel, result);
            }
        }
        assert!(!session.has_actions());
        while session.poll_transmit().is_some() {}
        assert!(session.is_subscribed("prices"));
        sessions.push(session);
    }
    let per_connection = (ALLOCATOR.meter().live() - before) / CONNECTIONS as isize;
    eprintln!("idle subscribed connection: {per_connection} bytes (session + node entries)");
    assert!(
        per_connection < 1280,
        "an idle subscribed connection holds {per_connection} bytes"
    );
    assert!(per_connection > std::mem::size_of::<Session>() as isize);
}
