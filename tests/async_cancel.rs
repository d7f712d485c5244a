//! Cancel safety of the async channel ends, under both executors (see
//! `async_support`): `recv`, `recv_batch` and `claim` futures raced against
//! a short timer (`tokio::select!` on tokio, `futures::future::select` with
//! a timer that completes after a few polls on the thread pool), over
//! 100,000 records: every record arrives exactly once, in order, and a
//! dropped `claim` future never leaves a claim behind.

#![cfg(feature = "async")]

mod common;
#[macro_use]
mod async_support;

use common::{Streams, mix, record_key as key};

use std::future::Future;
use std::time::Duration;

use async_support::{AsyncTx, Exec, New, commit_record, len_of, open_channel};
use logring::nonblocking::RecvError;

// ---------------------------------------------------------------------------
// Cancel safety.

/// Records sent (and received) in the cancel safety test.
const RACED: u64 = 100_000;

/// How many races in a row an end may lose before it waits for real.
const LOST_IN_A_ROW: u32 = 4;

/// Races `fut` against the executor's short timer (see [`Exec::race`]),
/// unless the timer has won [`LOST_IN_A_ROW`] races in a row: then awaits
/// `fut` to the end, so that a long wait is spent parked rather than in a
/// busy loop of races. `None` if the timer won; counts its wins in `won`.
async fn race_or_wait<E: Exec, F>(
    exec: &E,
    lost: &mut u32,
    won: &mut u64,
    fut: F,
) -> Option<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    if *lost >= LOST_IN_A_ROW {
        *lost = 0;
        return Some(fut.await);
    }
    let raced = exec.race(fut).await;
    if raced.is_none() {
        *lost += 1;
        *won += 1;
    } else {
        *lost = 0;
    }
    raced
}

/// Both ends race their operations against a short timer (see
/// [`race_or_wait`]), so that many `recv`, `recv_batch` and `claim` futures
/// are dropped while they wait, some just after being woken. The producer
/// task sends in bursts with pauses, so the receiver often waits; the
/// consumer pauses now and then, so the ring fills and sends wait. A send
/// that lost its race is retried with the same record. Every record arrives
/// exactly once, in order, intact, and both timers won.
async fn cancel_safety<T: AsyncTx, E: Exec>(new: New<T>, exec: E) {
    let (mut tx, mut rx) = open_channel(new, 4096);
    let producer = exec.spawn({
        let exec = exec.clone();
        async move {
            let (mut seq, mut lost, mut timer_won) = (0, 0, 0);
            while seq < RACED {
                let burst_end = (seq + 1 + mix(seq ^ 0xb0) % 1_000).min(RACED);
                while seq < burst_end {
                    let send = tx.claim(len_of(key(0, seq)));
                    match race_or_wait(&exec, &mut lost, &mut timer_won, send).await {
                        Some(Ok(claim)) => {
                            commit_record(claim, 0, seq);
                            seq += 1;
                        }
                        Some(Err(error)) => panic!("record {seq}: {error}"),
                        None => {}
                    }
                }
                let pause = 50 + mix(seq ^ 0x9a05e) % 1_450;
                exec.sleep(Duration::from_micros(pause)).await;
            }
            timer_won
        }
    });

    let mut streams = Streams::new(1, len_of);
    let (mut lost, mut timer_won) = (0, 0);
    let mut next_pause = 0;
    for round in 0usize.. {
        let received = if round % 4 == 0 {
            let batch = rx.recv_batch(1 + round % 16, |record| {
                streams.check(record.tag(), &record);
            });
            race_or_wait(&exec, &mut lost, &mut timer_won, batch)
                .await
                .map(|received| received.map(drop))
        } else {
            race_or_wait(&exec, &mut lost, &mut timer_won, rx.recv())
                .await
                .map(|received| {
                    received.map(|record| {
                        streams.check(record.tag(), &record);
                    })
                })
        };
        match received {
            Some(Ok(())) | None => {}
            Some(Err(RecvError::Disconnected)) => break,
            Some(Err(error)) => panic!("{error}"),
        }
        if streams.count(0) >= next_pause {
            next_pause += 5_000;
            exec.sleep(Duration::from_millis(3)).await;
        }
    }
    let send_timer_won = producer.await;
    assert_eq!(streams.count(0), RACED);
    assert!(rx.is_empty());
    assert_eq!(rx.corruption(), None);
    assert!(timer_won > 0, "no receive lost its race against the timer");
    assert!(
        send_timer_won > 0,
        "no send lost its race against the timer"
    );
    println!("timers won against {timer_won} receives and {send_timer_won} sends");
}
kinds_and_executors!(cancel_safety);
