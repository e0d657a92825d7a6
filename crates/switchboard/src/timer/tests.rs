//! The shared timer on paused and real time, on both runtime flavours.

use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::Instant;

use super::shared::Stats;
use super::{driver, now, Timer, TICK};
use crate::{Config, Limits, Role, WebSocket};

fn stats() -> Stats {
    driver::for_current_runtime().stats()
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

/// Waits on `timer` until `deadline`, as the connection core does.
async fn wait(timer: &mut Timer, deadline: std::time::Instant) {
    poll_fn(|cx| timer.poll_until(cx, deadline)).await;
}

#[test]
fn the_handle_is_sixteen_bytes() {
    assert!(std::mem::size_of::<Timer>() <= 16);
}

#[test]
fn a_repeated_poll_does_not_register_again() {
    paused_runtime().block_on(async {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut timer = Timer::default();
        let deadline = now() + Duration::from_secs(20);
        assert!(timer.poll_until(&mut cx, deadline).is_pending());
        let first = stats();
        assert_eq!((first.in_use, first.armed), (1, 1));
        // The same deadline again, and later ones (keepalive after a read):
        // no lock, no re-sort.
        for later in 0..100 {
            let deadline = deadline + Duration::from_millis(later);
            assert!(timer.poll_until(&mut cx, deadline).is_pending());
        }
        assert_eq!(stats().arms, first.arms);
        // An earlier deadline moves the registration at once.
        assert!(timer
            .poll_until(&mut cx, deadline - Duration::from_secs(10))
            .is_pending());
        assert_eq!(stats().arms, first.arms + 1);
        assert_eq!(stats().armed, 1);
        drop(timer);
        assert_eq!((stats().in_use, stats().armed), (0, 0));
    });
}

#[test]
fn a_new_waker_is_registered_without_the_lock() {
    paused_runtime().block_on(async {
        let mut timer = Timer::default();
        let deadline = now() + Duration::from_secs(1);
        let noop = Waker::noop();
        assert!(timer
            .poll_until(&mut Context::from_waker(noop), deadline)
            .is_pending());
        let arms = stats().arms;
        // Then the task that really waits: it must be the one woken.
        let start = Instant::now();
        wait(&mut timer, deadline).await;
        assert_eq!(stats().arms, arms);
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(1) + TICK);
    });
}

#[test]
fn many_deadlines_fire_in_order_and_on_time() {
    paused_runtime().block_on(async {
        let start = now();
        let fired = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Deadlines 1 ms to 2 s apart, armed in a scrambled order.
        for i in 0..200u64 {
            let offset = Duration::from_millis((i * 7919) % 2000 + 1);
            let fired = Arc::clone(&fired);
            tasks.push(tokio::spawn(async move {
                let mut timer = Timer::default();
                wait(&mut timer, start + offset).await;
                fired.lock().unwrap().push((offset, now() - start));
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let fired = fired.lock().unwrap();
        assert_eq!(fired.len(), 200);
        for pair in fired.windows(2) {
            // Deadlines that share a tick fire together, in any order.
            assert!(pair[0].0 <= pair[1].0 + TICK, "{pair:?}");
        }
        for &(offset, at) in fired.iter() {
            assert!(
                at >= offset && at <= offset + TICK,
                "{offset:?} fired at {at:?}"
            );
        }
        assert_eq!((stats().in_use, stats().armed), (0, 0));
    });
}

#[test]
fn dropped_connections_leave_no_entries() {
    paused_runtime().block_on(async {
        let config = Config::default().ping_interval(Some(Duration::from_secs(5)));
        for round in 0..3 {
            let mut peers = Vec::new();
            let mut sockets = Vec::new();
            for _ in 0..1000 {
                let (ours, theirs) = tokio::io::duplex(64);
                let mut ws =
                    WebSocket::from_raw(ours, Role::Server, config.clone(), Limits::default());
                // Into its idle state: keepalive armed.
                assert!(ws.recv().now_or_never().is_none());
                sockets.push(ws);
                peers.push(theirs);
            }
            let held = stats();
            assert_eq!((held.in_use, held.armed), (1000, 1000), "round {round}");
            drop(sockets);
            let after = stats();
            assert_eq!((after.in_use, after.armed), (0, 0), "round {round}");
        }
    });
}

#[test]
fn works_on_a_multi_thread_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let start = now();
        let tasks: Vec<_> = (0..100u64)
            .map(|i| {
                tokio::spawn(async move {
                    let deadline = start + Duration::from_millis(20 + i % 50);
                    let mut timer = Timer::default();
                    // Re-armed from different tasks and wakers on the way.
                    wait(&mut timer, start + Duration::from_millis(5)).await;
                    tokio::task::yield_now().await;
                    wait(&mut timer, deadline).await;
                    assert!(now() >= deadline);
                })
            })
            .collect();
        tokio::time::timeout(Duration::from_secs(10), async {
            for task in tasks {
                task.await.unwrap();
            }
        })
        .await
        .expect("deadlines fire on a multi-thread runtime");
        assert_eq!((stats().in_use, stats().armed), (0, 0));
    });
}

#[test]
fn a_handle_moves_to_the_next_runtime_when_its_own_shuts_down() {
    let mut timer = Timer::default();
    let first = paused_runtime();
    first.block_on(async {
        let deadline = now() + Duration::from_secs(3600);
        assert!(timer
            .poll_until(&mut Context::from_waker(Waker::noop()), deadline)
            .is_pending());
        assert_eq!(stats().in_use, 1);
    });
    // Dropping the runtime drops its driver, which closes its timer.
    drop(first);
    paused_runtime().block_on(async {
        let deadline = now() + Duration::from_secs(60);
        wait(&mut timer, deadline).await;
        assert!(now() >= deadline);
        assert_eq!(stats().in_use, 1);
        drop(timer);
        assert_eq!(stats().in_use, 0);
    });
}

#[test]
fn paused_time_advances_to_the_shared_deadline() {
    paused_runtime().block_on(async {
        let ws_deadline = now() + Duration::from_secs(30);
        let waiter = tokio::spawn(async move {
            let mut timer = Timer::default();
            wait(&mut timer, ws_deadline).await;
            now()
        });
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(!waiter.is_finished());
        let fired = waiter.await.unwrap();
        assert!(fired >= ws_deadline && fired <= ws_deadline + TICK);
        assert!(matches!(
            poll_fn(|cx| Poll::Ready(Timer::default().poll_until(cx, ws_deadline))).await,
            Poll::Ready(())
        ));
    });
}
