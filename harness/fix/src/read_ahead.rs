//! The one read-ahead of a store, for `fix` and `scan`: a thread of its own
//! fills buffers from the input (element batches of a `.sst`, pieces of a
//! `.reg`) while the caller processes the ones before, in file order.
//!
//! The buffers are a fixed pool, recycled: memory stays a few buffers,
//! whatever the size of the input, and the reader waits when the caller is
//! slower. When the caller is done (or stops early), the reader stops at its
//! next step.

use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::format::store::StreamError;
use crate::format::{ElementBatch, StoreReader};

/// The filled buffers, in input order, as the reader hands them on: each with
/// the error that ended the input after it, if one did (the buffer then holds
/// what the filler read before the error).
pub struct Filled<B, E> {
    full: Receiver<(B, Option<E>)>,
    empty: SyncSender<B>,
}

impl<B, E> Iterator for Filled<B, E> {
    type Item = (B, Option<E>);

    fn next(&mut self) -> Option<Self::Item> {
        self.full.recv().ok()
    }
}

impl<B, E> Filled<B, E> {
    /// Gives a buffer back to the reader, to be filled again.
    pub fn recycle(&self, buffer: B) {
        // The pool never holds more than it was given: this cannot block,
        // and a reader that has finished needs nothing back.
        let _ = self.empty.try_send(buffer);
    }
}

/// Runs `fill` on a reader thread over the buffers of `pool` and `consume`
/// on this thread over what it fills. `fill` returns `Ok(true)` when it
/// filled the buffer (and is to be asked again), `Ok(false)` when the input
/// has ended and the buffer holds nothing, or the error that ended the
/// input (handed on with the buffer). What `consume` returns is returned;
/// the reader is stopped when it returns.
pub fn read_ahead<B, E, T>(
    pool: Vec<B>,
    mut fill: impl FnMut(&mut B) -> Result<bool, E> + Send,
    consume: impl FnOnce(&mut Filled<B, E>) -> T,
) -> T
where
    B: Send,
    E: Send,
{
    let (full_tx, full_rx) = sync_channel::<(B, Option<E>)>(pool.len().max(1));
    let (empty_tx, empty_rx) = sync_channel::<B>(pool.len().max(1));
    for b in pool {
        // The channel holds them all.
        let _ = empty_tx.send(b);
    }
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // Ends when the input ends, or when the consumer is gone.
            while let Ok(mut b) = empty_rx.recv() {
                let sent = match fill(&mut b) {
                    Ok(true) => full_tx.send((b, None)),
                    Ok(false) => return,
                    Err(e) => {
                        let _ = full_tx.send((b, Some(e)));
                        return;
                    }
                };
                if sent.is_err() {
                    return;
                }
            }
        });
        let mut filled = Filled {
            full: full_rx,
            empty: empty_tx,
        };
        // Dropping `filled` (its channels) stops the reader at its next
        // send or receive.
        consume(&mut filled)
    })
}

/// [`read_ahead`] over the element batches of a store: `batches` buffers of
/// about `batch_bytes` each, filled by [`StoreReader::next_batch`] (the last
/// batch of the input is handed on like the others; an error comes with the
/// elements read before it).
pub fn read_store<R: Read + Send, T>(
    mut reader: StoreReader<R>,
    batches: usize,
    batch_bytes: usize,
    consume: impl FnOnce(&mut Filled<ElementBatch, StreamError>) -> T,
) -> T {
    let pool = (0..batches)
        .map(|_| ElementBatch::with_capacity(batch_bytes))
        .collect();
    let mut ended = false;
    let fill = move |b: &mut ElementBatch| {
        if ended {
            return Ok(false);
        }
        ended = !reader.next_batch(b)?;
        Ok(true)
    };
    read_ahead(pool, fill, consume)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_with_the_error_after_what_was_read_before_it() {
        let mut next = 0u32;
        let got: Vec<(u32, Option<&str>)> = read_ahead(
            vec![0u32; 3],
            |b| {
                next += 1;
                *b = next;
                match next {
                    1..=9 => Ok(true),
                    _ => Err("broken"),
                }
            },
            |filled| {
                let mut got = Vec::new();
                while let Some((b, e)) = filled.next() {
                    got.push((b, e));
                    filled.recycle(b);
                }
                got
            },
        );
        let want: Vec<(u32, Option<&str>)> = (1..=10)
            .map(|i| (i, (i == 10).then_some("broken")))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_consumer_that_stops_early_stops_the_reader() {
        let first = read_ahead(
            vec![0u8; 2],
            |_| Ok::<bool, ()>(true),
            |filled| filled.next().map(|(b, _)| b),
        );
        assert_eq!(first, Some(0));
    }
}
