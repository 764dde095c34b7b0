//! The sink's state: aggregates per metric x dimension combination x
//! second, the idempotency keys of applied batches, and the optional
//! write-ahead log. One lock makes each batch all-or-nothing: a batch is
//! logged, applied and its key remembered before anyone else sees the data.

use super::sample::Sample;
use super::wal::Wal;
use crate::engine::{Expected, Grain};
use rustc_hash::FxHashSet;
use std::io;
use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The sink stores per second; queries roll up to their interval.
pub const STORE_GRAIN: &str = "PT1S";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Accepted {
        samples: usize,
    },
    /// A batch with this idempotency key was applied before; not counted again.
    Duplicate,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub batches: u64,
    pub duplicates: u64,
    pub samples: u64,
    pub replayed_batches: u64,
}

struct Inner {
    data: Expected,
    keys: FxHashSet<String>,
    wal: Option<Wal>,
    stats: StoreStats,
}

/// Batches take the write lock; queries share the read lock, so the
/// checker's parallel queries run side by side.
pub struct Store {
    inner: RwLock<Inner>,
}

fn grain() -> Grain {
    STORE_GRAIN.parse().unwrap_or(Grain::MINUTE)
}

impl Store {
    /// An in-memory store, or one backed by `data_dir/wal.log` (replayed now).
    pub fn open(data_dir: Option<&Path>) -> io::Result<Store> {
        let mut inner = Inner {
            data: Expected::new(grain()),
            keys: FxHashSet::default(),
            wal: None,
            stats: StoreStats::default(),
        };
        if let Some(dir) = data_dir {
            let (wal, records) = Wal::open(dir)?;
            for record in records {
                if let Some(key) = record.key {
                    inner.keys.insert(key);
                }
                inner.apply(&record.samples);
                inner.stats.replayed_batches += 1;
            }
            inner.wal = Some(wal);
        }
        Ok(Store {
            inner: RwLock::new(inner),
        })
    }

    /// Applies a whole batch, or nothing if it was applied before or the log
    /// cannot be written.
    pub fn apply(&self, key: Option<&str>, samples: &[Sample]) -> io::Result<Applied> {
        let mut inner = self.write();
        if let Some(key) = key
            && inner.keys.contains(key)
        {
            inner.stats.duplicates += 1;
            return Ok(Applied::Duplicate);
        }
        if let Some(wal) = inner.wal.as_mut() {
            wal.append(key, samples)?;
        }
        inner.apply(samples);
        if let Some(key) = key {
            inner.keys.insert(key.to_string());
        }
        Ok(Applied::Accepted {
            samples: events(samples) as usize,
        })
    }

    /// Runs `f` on the aggregates (queries, exposition) under the lock.
    pub fn read<R>(&self, f: impl FnOnce(&Expected) -> R) -> R {
        f(&self.read_lock().data)
    }

    pub fn stats(&self) -> StoreStats {
        self.read_lock().stats
    }

    // A panic while holding the lock cannot leave a half-applied batch
    // (apply only touches the map after the log succeeded), so the data is
    // still consistent and the sink keeps serving.
    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_lock(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The single samples `samples` stand for (an aggregate stands for its count).
fn events(samples: &[Sample]) -> u64 {
    samples.iter().map(|s| s.aggregate.count).sum()
}

impl Inner {
    fn apply(&mut self, samples: &[Sample]) {
        for s in samples {
            self.data.add_aggregate(s.series, s.time_ms, &s.aggregate);
        }
        self.stats.batches += 1;
        self.stats.samples += events(samples);
    }
}
