//! An ordered, bounded parallel map: the engine of the put and get pipelines.
//!
//! `produce` runs on its own thread and yields jobs in order; `threads`
//! workers run `work` on them; `consume` runs on the calling thread and sees
//! the results in job order. At most `in_flight` jobs exist at once (read,
//! being worked on, or waiting to be consumed), which bounds memory whatever
//! the input size. The first error from any side stops all three.

use std::collections::BTreeMap;

use crossbeam_channel::bounded;

/// Runs the pipeline; with `threads <= 1` everything runs on this thread.
pub(crate) fn ordered_map<J, O, E>(
    threads: usize,
    in_flight: usize,
    mut produce: impl FnMut() -> Result<Option<J>, E> + Send,
    work: impl Fn(J) -> Result<O, E> + Sync,
    mut consume: impl FnMut(O) -> Result<(), E>,
) -> Result<(), E>
where
    J: Send,
    O: Send,
    E: Send,
{
    if threads <= 1 {
        while let Some(job) = produce()? {
            consume(work(job)?)?;
        }
        return Ok(());
    }
    let in_flight = in_flight.max(threads);
    std::thread::scope(|scope| {
        // Tokens bound the jobs alive; `consume` returns one per result.
        let (token_tx, token_rx) = bounded::<()>(in_flight);
        for _ in 0..in_flight {
            token_tx.send(()).expect("capacity is in_flight; qed");
        }
        let (job_tx, job_rx) = bounded::<(u64, J)>(threads);
        let (out_tx, out_rx) = bounded::<(u64, Result<O, E>)>(in_flight);

        let producer_out = out_tx.clone();
        scope.spawn(move || {
            for seq in 0u64.. {
                if token_rx.recv().is_err() {
                    return;
                }
                match produce() {
                    Ok(Some(job)) => {
                        if job_tx.send((seq, job)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = producer_out.send((seq, Err(e)));
                        return;
                    }
                }
            }
        });
        for _ in 0..threads {
            let (job_rx, out_tx, work) = (job_rx.clone(), out_tx.clone(), &work);
            scope.spawn(move || {
                for (seq, job) in job_rx {
                    if out_tx.send((seq, work(job))).is_err() {
                        return;
                    }
                }
            });
        }
        drop((job_rx, out_tx));

        // Consume in order. Dropping the receivers on return (success or
        // error) unblocks and ends every thread before the scope joins them.
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        for (seq, result) in out_rx {
            pending.insert(seq, result);
            while let Some(result) = pending.remove(&next) {
                consume(result?)?;
                next += 1;
                let _ = token_tx.send(());
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_arrive_in_order_and_in_flight_stays_bounded() {
        let alive = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let mut next = 0u32;
        let mut seen = Vec::new();
        ordered_map::<_, _, ()>(
            2,
            3,
            || {
                let n = alive.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                next += 1;
                Ok((next <= 200).then_some(next))
            },
            |job| {
                // Uneven work so that results complete out of order.
                let spins = if job % 3 == 0 { 20_000 } else { 10 };
                Ok((0..spins).fold(job, |a, _| std::hint::black_box(a)))
            },
            |out| {
                alive.fetch_sub(1, Ordering::SeqCst);
                seen.push(out);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (1..=200).collect::<Vec<_>>());
        // The producer's final (empty) call also holds a token.
        assert!(peak.load(Ordering::SeqCst) <= 3 + 1);
    }

    #[test]
    fn the_first_error_stops_the_pipeline() {
        for threads in [1, 2] {
            let mut produced = 0;
            let result = ordered_map(
                threads,
                4,
                || {
                    produced += 1;
                    Ok(Some(produced))
                },
                |job| if job == 10 { Err(job) } else { Ok(job) },
                |_| Ok(()),
            );
            assert_eq!(result, Err(10));
            assert!(produced < 20, "producer kept going: {produced}");
        }
    }
}
