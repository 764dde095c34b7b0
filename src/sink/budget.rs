//! `--max-inflight-bytes`: the memory request bodies may take at once, over
//! all connections. A body reserves its share as its bytes arrive, not by
//! its declared Content-Length (idle connections declaring big bodies would
//! otherwise hold the whole budget without sending a byte), and a gzip body
//! reserves its inflated bytes as they are inflated. Each reservation lives
//! as long as the bytes it covers: through parsing and applying the batch.

use std::ops::Deref;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is counted in KiB: a semaphore hands out at most 2^32 - 1
/// permits at once.
const UNIT: usize = 1024;

/// Buffers start this large, so a body arriving in small frames does not
/// take the semaphore for every few bytes.
const FIRST_CAPACITY: usize = 16 * UNIT;

/// Why bytes could not be taken into a [`BudgetedBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum OverBudget {
    /// Other bodies hold the budget now; later it may fit.
    #[error("the bodies being received and parsed hold the budget")]
    Busy,
    /// More than the whole budget: it never fits.
    #[error("one body needs more than the whole budget")]
    TooLarge,
}

/// The memory all bodies may take at once.
#[derive(Clone)]
pub(super) struct BodyBudget {
    permits: Arc<Semaphore>,
    units: usize,
}

impl BodyBudget {
    pub(super) fn new(bytes: usize) -> BodyBudget {
        // A semaphore holds at most usize::MAX >> 3 permits.
        let units = (bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget {
            permits: Arc::new(Semaphore::new(units)),
            units,
        }
    }

    /// An empty buffer that grows to at most `limit` bytes within the budget.
    pub(super) fn buffer(&self, limit: usize) -> BudgetedBuffer {
        BudgetedBuffer {
            bytes: Vec::new(),
            reserved: None,
            limit,
            budget: self.clone(),
        }
    }

    /// The whole budget, in bytes.
    pub(super) fn bytes(&self) -> usize {
        self.units.saturating_mul(UNIT)
    }

    /// Bytes reserved now, over all buffers.
    #[cfg(test)]
    pub(super) fn in_use(&self) -> usize {
        (self.units - self.permits.available_permits()) * UNIT
    }
}

/// Bytes in memory with the budget reserved for their whole capacity (the
/// memory really taken, not only the length), returned when dropped.
pub(super) struct BudgetedBuffer {
    bytes: Vec<u8>,
    reserved: Option<OwnedSemaphorePermit>,
    limit: usize,
    budget: BodyBudget,
}

impl BudgetedBuffer {
    /// Appends `data`, reserving more of the budget first when the buffer
    /// must grow; on refusal nothing is appended.
    pub(super) fn extend(&mut self, data: &[u8]) -> Result<(), OverBudget> {
        let needed = self.bytes.len().saturating_add(data.len());
        if needed > self.bytes.capacity() {
            // Doubling keeps the copies few; it stops at what the body may
            // take and at the budget, so a body that fits is never refused
            // for the slack of its last doubling.
            let grown = (self.bytes.capacity().saturating_mul(2))
                .max(FIRST_CAPACITY)
                .min(self.limit)
                .min(self.budget.bytes());
            let mut capacity = needed.max(grown);
            // Near the end of the budget, grow only by what is needed.
            if self.reserve(capacity).is_err() {
                self.reserve(needed)?;
                capacity = needed;
            }
            self.bytes.reserve_exact(capacity - self.bytes.len());
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    /// Bytes of the budget this buffer holds.
    pub(super) fn held(&self) -> usize {
        self.reserved
            .as_ref()
            .map_or(0, |p| p.num_permits().saturating_mul(UNIT))
    }

    /// Gives the slack of the last doubling back, to memory and to the
    /// budget: the bytes are complete and held while they are parsed.
    pub(super) fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        let units = self.bytes.capacity().div_ceil(UNIT);
        if let Some(reserved) = &mut self.reserved {
            let slack = reserved.num_permits().saturating_sub(units);
            drop(reserved.split(slack));
        }
    }

    /// Holds enough of the budget for `capacity` bytes.
    fn reserve(&mut self, capacity: usize) -> Result<(), OverBudget> {
        let units = capacity.div_ceil(UNIT);
        let held = self.reserved.as_ref().map_or(0, |p| p.num_permits());
        if units <= held {
            return Ok(());
        }
        if units > self.budget.units {
            return Err(OverBudget::TooLarge);
        }
        let more = u32::try_from(units - held).map_err(|_| OverBudget::TooLarge)?;
        let permit = self
            .budget
            .permits
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| OverBudget::Busy)?;
        match &mut self.reserved {
            Some(reserved) => reserved.merge(permit),
            None => self.reserved = Some(permit),
        }
        Ok(())
    }
}

impl Deref for BudgetedBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_holds_its_capacity_until_dropped() {
        let budget = BodyBudget::new(1 << 20);
        let mut buffer = budget.buffer(1 << 20);
        buffer.extend(&[1; 100]).unwrap();
        assert_eq!(budget.in_use(), FIRST_CAPACITY);
        buffer.extend(&[2; 40_000]).unwrap();
        assert!(budget.in_use() >= 40_100, "{}", budget.in_use());
        assert!(budget.in_use() <= 2 * 40_100, "{}", budget.in_use());
        assert_eq!(buffer.len(), 40_100);
        drop(buffer);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn a_shrunk_buffer_gives_its_slack_back() {
        let budget = BodyBudget::new(1 << 20);
        let mut buffer = budget.buffer(1 << 20);
        for _ in 0..14 {
            buffer.extend(&[1; 10_000]).unwrap();
        }
        assert!(budget.in_use() > 150_000, "{}", budget.in_use());
        buffer.shrink_to_fit();
        assert_eq!(budget.in_use(), 140_000usize.div_ceil(UNIT) * UNIT);
        assert_eq!(buffer.len(), 140_000);
    }

    #[test]
    fn a_full_budget_refuses_and_appends_nothing() {
        let budget = BodyBudget::new(64 * UNIT);
        let mut first = budget.buffer(usize::MAX);
        first.extend(&[0; 60 * UNIT]).unwrap();
        let mut second = budget.buffer(usize::MAX);
        assert_eq!(second.extend(&[0; 10 * UNIT]), Err(OverBudget::Busy));
        assert!(second.is_empty());
        // What is left still takes a body that fits exactly.
        second.extend(&[0; 4 * UNIT]).unwrap();
        assert_eq!(budget.in_use(), 64 * UNIT);
        assert_eq!(first.extend(&[0; 10 * UNIT]), Err(OverBudget::TooLarge));
        drop(first);
        second.extend(&[0; 10 * UNIT]).unwrap();
    }

    #[test]
    fn the_last_doubling_stops_at_the_limit() {
        let budget = BodyBudget::new(100 * UNIT);
        let mut buffer = budget.buffer(90 * UNIT);
        for _ in 0..90 {
            buffer.extend(&[0; UNIT]).unwrap();
        }
        assert_eq!(budget.in_use(), 90 * UNIT);
    }
}
