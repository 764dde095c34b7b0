//! The sink's state: aggregates per metric x dimension combination x
//! second (minute, past the per-second retention: `cells.rs`), the idempotency keys of applied batches (per endpoint, with a
//! digest of each body), and the optional write-ahead log. One lock makes
//! each batch all-or-nothing: a batch is logged, applied and its key
//! remembered before anyone else sees the data. The cells have a lock of
//! their own, which queries share for as long as they take: a batch that
//! finds it held is kept aside (and seen by queries) instead of waiting,
//! and added to the cells by the next batch that can take them.

use super::cells::Cells;
use super::sample::Sample;
use super::view::View;
use super::wal::{BatchKey, BodyDigest, OpenReport, Record, Route, Wal, WalError};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

/// About 480 MiB of cells (measured: 8.04 M cells took the sink to 477
/// MiB), well under a GiB; a day of the busiest shipped scenario at one call
/// per second holds under a million.
pub(crate) const DEFAULT_MAX_CELLS: usize = 8_000_000;

/// Cells or keys per record of a compacted log: a damaged record is moved
/// aside whole, so this is how many idempotency keys (each a batch whose
/// retry would count again) or cells one damaged byte can cost. A few
/// hundred keep that small while records stay large next to their
/// 12-byte frame.
const PER_RECORD: usize = 256;

/// Samples kept aside at most while queries hold the cells; past it a batch
/// waits for the queries, so queries running back to back cannot make the
/// aside batches (which every query reads in full) grow without end.
const MAX_ASIDE_SAMPLES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    Accepted {
        samples: usize,
    },
    /// A batch with this idempotency key and body was applied before; not
    /// counted again.
    Duplicate,
    /// The key was used before for a different body: refused, since
    /// dropping the new lines as a "duplicate" would lose them.
    Conflict,
}

/// Why a batch was not applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApplyError {
    #[error("cannot write the log: {0}")]
    Log(#[from] io::Error),
    #[error(
        "the batch would take the {what} of {metric} held past 2^64-1: every sum a query makes \
         (a cell, a coarser grain, one dimension, the totals) is at most that, and none may \
         overflow"
    )]
    Overflow {
        metric: crate::catalog::Metric,
        what: &'static str,
    },
    #[error(
        "the sink holds {held} series and this batch adds {new} more, past --max-series {max}; \
         raise it, or check the batch's dimension values (a sub-code or status that should not \
         vary?)"
    )]
    TooManySeries { held: usize, new: usize, max: usize },
    #[error(
        "the sink holds {held} cells (series x second, or minute past --per-second-retention) \
         and this batch adds {new} more, past --max-cells {max}; raise it (about 60 bytes each), \
         or shorten --per-second-retention so that older seconds are held per minute"
    )]
    TooManyCells { held: usize, new: usize, max: usize },
    #[error(
        "a sample at {time} is more than {window_days} days from now (--time-window); widen the \
         window for data that old or that far ahead"
    )]
    OutOfWindow { time: String, window_days: u64 },
}

/// Limits and choices of a store.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// Move damaged log bytes aside instead of refusing to start.
    pub repair: bool,
    /// Idempotency keys remembered (the oldest are forgotten first).
    pub max_keys: usize,
    /// Compact the log once it grew by this many bytes.
    pub compact_after: u64,
    /// Distinct series (metric x dimension combination) held at most.
    pub max_series: usize,
    /// Cells (a series' second, or minute once rolled) held at most: what
    /// bounds the sink's memory, as series x retention does not.
    pub max_cells: usize,
    /// Samples are taken from now - window to now + window only.
    pub time_window: std::time::Duration,
    /// Data time, back from the newest sample, held per second; older
    /// cells are held per minute.
    pub per_second_retention: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            repair: false,
            max_keys: 100_000,
            compact_after: 64 << 20,
            max_series: 100_000,
            max_cells: DEFAULT_MAX_CELLS,
            // Ten years each way: generated datasets start on a fixed date
            // (2026-01-01) and runs at the maximum rate write days ahead;
            // year 0000 or 9999 is a mistake.
            time_window: std::time::Duration::from_secs(3650 * 86_400),
            // A day of data per second: a long run at full rate or a
            // day-long dataset can still be checked at PT1S.
            per_second_retention: std::time::Duration::from_secs(86_400),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Series and cells held now.
    pub series: usize,
    pub cells: usize,
    pub batches: u64,
    pub duplicates: u64,
    pub samples: u64,
    pub replayed_batches: u64,
    pub compactions: u64,
    /// Compactions that failed (the old log kept; tried again later).
    pub compaction_failures: u64,
}

/// Idempotency keys of applied batches, oldest first, at most `max`.
struct Keys {
    /// Per route (`Route as usize - 1`): key -> body digest.
    digests: [FxHashMap<Box<str>, Option<BodyDigest>>; 3],
    order: VecDeque<(Route, Box<str>)>,
    max: usize,
}

impl Keys {
    fn get(&self, route: Route, key: &str) -> Option<Option<BodyDigest>> {
        self.digests[route as usize - 1].get(key).copied()
    }

    fn insert(&mut self, key: &BatchKey) {
        let id: Box<str> = key.key.as_str().into();
        let map = &mut self.digests[key.route as usize - 1];
        if map.insert(id.clone(), key.digest).is_none() {
            self.order.push_back((key.route, id));
        }
        while self.order.len() > self.max {
            if let Some((route, old)) = self.order.pop_front() {
                self.digests[route as usize - 1].remove(&old);
            }
        }
    }

    fn all(&self) -> impl Iterator<Item = BatchKey> + '_ {
        self.order.iter().map(|(route, key)| BatchKey {
            route: *route,
            key: key.to_string(),
            digest: self.get(*route, key).flatten(),
        })
    }
}

struct Inner {
    /// Batches applied while queries held the cells, oldest first.
    aside: Vec<Arc<[Sample]>>,
    aside_samples: usize,
    /// Every series held (packed), for --max-series.
    series: FxHashSet<u64>,
    max_series: usize,
    max_cells: usize,
    time_window_ms: i64,
    keys: Keys,
    wal: Option<Wal>,
    compact_after: u64,
    /// No compaction before the log is this long: after a failure (a full
    /// disk, most likely) the next try waits until the log grew by
    /// `compact_after` again, rather than rewriting the whole state after
    /// every batch.
    compact_retry_at: u64,
    stats: StoreStats,
    /// Count and total of everything ever stored, per metric: every sum a
    /// query or the exposition makes is at most these, so while they fit
    /// in 64 bits none can overflow.
    grand: std::collections::BTreeMap<crate::catalog::Metric, (u128, u128)>,
}

/// Batches are applied one at a time under `inner`; queries share `cells`,
/// so the checker's parallel queries run side by side, and ingest does not
/// wait for them.
pub(crate) struct Store {
    inner: Mutex<Inner>,
    /// Only taken for writing while holding `inner`.
    cells: RwLock<Cells>,
}

impl Store {
    /// An in-memory store.
    pub(crate) fn in_memory(options: StoreOptions) -> Store {
        Store {
            inner: Mutex::new(Inner::new(options)),
            cells: RwLock::new(Cells::new(options.per_second_retention)),
        }
    }

    /// A store backed by `data_dir/wal.log`, replayed now (and rewritten
    /// when it was of an older version or repaired).
    pub(crate) fn open(
        data_dir: &Path,
        options: StoreOptions,
    ) -> Result<(Store, OpenReport), WalError> {
        let mut inner = Inner::new(options);
        let mut cells = Cells::new(options.per_second_retention);
        let (wal, report) = Wal::open(data_dir, options.repair, |record| match record {
            Record::Batch { key, samples } => {
                if let Some(key) = key {
                    inner.keys.insert(&key);
                }
                let series: FxHashSet<u64> = samples.iter().map(|s| s.series.pack()).collect();
                inner.count(&samples, series);
                add(&mut cells, &samples, now_ms());
                inner.stats.replayed_batches += 1;
            }
            Record::Keys(keys) => keys.iter().for_each(|k| inner.keys.insert(k)),
            Record::Rolled(before) => cells.roll_to(before),
        })?;
        inner.wal = Some(wal);
        if report.needs_rewrite() {
            inner.compact(&cells).map_err(|source| WalError::Io {
                path: data_dir.join("wal.log"),
                source,
            })?;
        }
        Ok((
            Store {
                inner: Mutex::new(inner),
                cells: RwLock::new(cells),
            },
            report,
        ))
    }

    /// Applies a whole batch, or nothing if it was applied before, would
    /// overflow an aggregate, or the log cannot be written.
    /// `key` with the digest of `body` it is compared and remembered by: of
    /// the kind the store remembers for that key (SHA-256 for one replayed
    /// from a version 2 or 3 log), else BLAKE3.
    pub(crate) fn digested(&self, mut key: BatchKey, body: &[u8]) -> BatchKey {
        let remembered = self.lock().keys.get(key.route, &key.key).flatten();
        key.digest = Some(match remembered {
            Some(digest) => digest.same_kind_of(body),
            None => BodyDigest::of(body),
        });
        key
    }

    pub(crate) fn apply(
        &self,
        key: Option<&BatchKey>,
        samples: &[Sample],
    ) -> Result<Applied, ApplyError> {
        let mut inner = self.lock();
        if let Some(key) = key
            && let Some(digest) = inner.keys.get(key.route, &key.key)
        {
            // Keys migrated from a log without digests match any body.
            if digest.is_some() && digest != key.digest {
                return Ok(Applied::Conflict);
            }
            inner.stats.duplicates += 1;
            return Ok(Applied::Duplicate);
        }
        let new_series = inner.check_limits(samples, &self.read_cells())?;
        inner.check_overflow(samples)?;
        if let Some(wal) = inner.wal.as_mut() {
            wal.append(key, samples)?;
        }
        inner.count(samples, new_series);
        self.add_or_set_aside(&mut inner, samples);
        if let Some(key) = key {
            inner.keys.insert(key);
        }
        // Compacting costs the size of the state: waiting until the log
        // grew by at least that much keeps the cost per batch bounded.
        if inner.wal.as_ref().is_some_and(|w| {
            w.growth() >= inner.compact_after.max(w.len() - w.growth())
                && w.len() >= inner.compact_retry_at
        }) {
            // The batch is durable already: a failed compaction costs only
            // a larger log, said here since no request will say it.
            match inner.compact(&self.read_cells()) {
                Ok(()) => inner.stats.compactions += 1,
                Err(e) => inner.compaction_failed(&e),
            }
        }
        Ok(Applied::Accepted {
            samples: events(samples) as usize,
        })
    }

    /// Adds a batch to the cells, with the batches set aside before it;
    /// or, while queries hold the cells, sets it aside too.
    fn add_or_set_aside(&self, inner: &mut Inner, samples: &[Sample]) {
        let mut cells = match self.cells.try_write() {
            Ok(cells) => cells,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock)
                if inner.aside_samples.saturating_add(samples.len()) <= MAX_ASIDE_SAMPLES =>
            {
                inner.aside.push(samples.into());
                inner.aside_samples += samples.len();
                return;
            }
            Err(TryLockError::WouldBlock) => self.write_cells(),
        };
        let now = now_ms();
        for batch in inner.aside.drain(..) {
            add(&mut cells, &batch, now);
        }
        inner.aside_samples = 0;
        add(&mut cells, samples, now);
    }

    /// Runs `f` on the aggregates (queries, exposition), holding the cells
    /// (shared with other queries, not with ingest) but nothing else.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&View) -> R) -> R {
        // The cells are taken before the batches aside are copied, both
        // under `inner`: no batch can move from one to the other between.
        let inner = self.lock();
        let cells = self.read_cells();
        let aside = inner.aside.clone();
        drop(inner);
        f(&View::new(&cells, &aside))
    }

    pub(crate) fn stats(&self) -> StoreStats {
        let inner = self.lock();
        let cells = self.read_cells().len();
        StoreStats {
            series: inner.series.len(),
            cells,
            ..inner.stats
        }
    }

    /// The limits the store was opened with, for `GET /stats`.
    pub(crate) fn limits(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.max_series, inner.max_cells)
    }

    // A panic while holding a lock cannot leave a half-applied batch
    // (apply only touches the cells after the log succeeded), so the data
    // is still consistent and the sink keeps serving.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_cells(&self) -> RwLockWriteGuard<'_, Cells> {
        self.cells
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_cells(&self) -> RwLockReadGuard<'_, Cells> {
        self.cells
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Adds samples to the cells and rolls what fell out of the per-second
/// retention.
fn add(cells: &mut Cells, samples: &[Sample], now_ms: i64) {
    for s in samples {
        cells.add(s);
    }
    cells.roll(now_ms);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The single samples `samples` stand for (an aggregate stands for its count).
fn events(samples: &[Sample]) -> u64 {
    samples
        .iter()
        .fold(0u64, |n, s| n.saturating_add(s.aggregate.count))
}

impl Inner {
    fn new(options: StoreOptions) -> Inner {
        Inner {
            aside: Vec::new(),
            aside_samples: 0,
            series: Default::default(),
            max_series: options.max_series,
            max_cells: options.max_cells,
            time_window_ms: options.time_window.as_millis().min(i64::MAX as u128) as i64,
            keys: Keys {
                digests: Default::default(),
                order: VecDeque::new(),
                max: options.max_keys.max(1),
            },
            wal: None,
            compact_after: options.compact_after,
            compact_retry_at: 0,
            stats: StoreStats::default(),
            grand: Default::default(),
        }
    }

    /// Counts a batch (its cells are added apart); `new_series` holds (at
    /// least) the series it brings that the store did not hold yet.
    fn count(&mut self, samples: &[Sample], new_series: FxHashSet<u64>) {
        self.series.extend(new_series);
        for s in samples {
            let grand = self.grand.entry(s.series.metric()).or_default();
            grand.0 += u128::from(s.aggregate.count);
            grand.1 += u128::from(s.aggregate.total);
        }
        self.stats.batches += 1;
        self.stats.samples = self.stats.samples.saturating_add(events(samples));
    }

    /// Refuses a batch with a sample outside the time window or one that
    /// would take the series past --max-series, before anything is logged;
    /// else returns the series the batch adds. (Replay applies what the
    /// log holds, whatever the limits now.)
    fn check_limits(
        &self,
        samples: &[Sample],
        cells: &Cells,
    ) -> Result<FxHashSet<u64>, ApplyError> {
        let now = now_ms();
        let window = self.time_window_ms;
        // Past the last day, times (and the day buckets holding them) have
        // no RFC 3339 text, whatever --time-window allows.
        let last = now.saturating_add(window).min(crate::model::LAST_EVENT_MS);
        if let Some(s) = samples
            .iter()
            .find(|s| s.time_ms < now.saturating_sub(window) || s.time_ms > last)
        {
            return Err(ApplyError::OutOfWindow {
                time: crate::wire::metrics_response::time_stamp(s.time_ms),
                window_days: (window / 86_400_000) as u64,
            });
        }
        let mut new = FxHashSet::default();
        for s in samples {
            let packed = s.series.pack();
            if !self.series.contains(&packed) {
                new.insert(packed);
            }
        }
        if self.series.len() + new.len() > self.max_series {
            return Err(ApplyError::TooManySeries {
                held: self.series.len(),
                new: new.len(),
                max: self.max_series,
            });
        }
        self.check_cells(samples, cells)?;
        Ok(new)
    }

    /// Refuses a batch that would make more cells than --max-cells. Each
    /// sample makes one cell at most, so the exact count is only needed
    /// near the limit.
    fn check_cells(&self, samples: &[Sample], cells: &Cells) -> Result<(), ApplyError> {
        let bound = cells.len().saturating_add(self.aside_samples);
        if bound.saturating_add(samples.len()) <= self.max_cells {
            return Ok(());
        }
        // Cells the batches set aside (while queries read) will make.
        let mut aside: FxHashSet<(u64, i64)> = FxHashSet::default();
        for s in self.aside.iter().flat_map(|batch| batch.iter()) {
            if !cells.holds(s.series.pack(), s.time_ms) {
                aside.insert((s.series.pack(), cells.bucket(s.time_ms)));
            }
        }
        let held = cells.len() + aside.len();
        let new: FxHashSet<(u64, i64)> = samples
            .iter()
            .filter(|s| !cells.holds(s.series.pack(), s.time_ms))
            .map(|s| (s.series.pack(), cells.bucket(s.time_ms)))
            .filter(|cell| !aside.contains(cell))
            .collect();
        if held + new.len() > self.max_cells {
            return Err(ApplyError::TooManyCells {
                held,
                new: new.len(),
                max: self.max_cells,
            });
        }
        Ok(())
    }

    /// Refuses a batch that would take a metric's count or total of
    /// everything held past 2^64-1, before anything is logged. Checking
    /// each cell alone let sums across minutes (PT5M, PT1H, /prometheus)
    /// and across series (one dimension, the totals) wrap: three documents
    /// of count 2^63 once made /prometheus show 0.
    fn check_overflow(&self, samples: &[Sample]) -> Result<(), ApplyError> {
        let mut after = self.grand.clone();
        for s in samples {
            let metric = s.series.metric();
            let grand = after.entry(metric).or_default();
            grand.0 += u128::from(s.aggregate.count);
            grand.1 += u128::from(s.aggregate.total);
            let max = u128::from(u64::MAX);
            if grand.0 > max || grand.1 > max {
                return Err(ApplyError::Overflow {
                    metric,
                    what: if grand.0 > max { "count" } else { "total" },
                });
            }
        }
        Ok(())
    }

    fn compaction_failed(&mut self, e: &io::Error) {
        self.stats.compaction_failures += 1;
        let Some(wal) = self.wal.as_ref() else {
            return;
        };
        let retry_at = wal.len().saturating_add(self.compact_after.max(1));
        self.compact_retry_at = retry_at;
        eprintln!(
            "compacting {} failed ({e}); the log is as it was and takes batches as before; \
             compaction is tried again once it holds {retry_at} bytes",
            wal.path().display()
        );
    }

    /// Rewrites the log as the current aggregates (with the batches aside)
    /// and keys.
    fn compact(&mut self, data: &Cells) -> io::Result<()> {
        let Some(wal) = self.wal.as_mut() else {
            return Ok(());
        };
        let cells: Vec<Sample> = data
            .iter()
            .map(|(series, time_ms, aggregate)| Sample {
                series,
                time_ms,
                aggregate: *aggregate,
            })
            .chain(self.aside.iter().flat_map(|batch| batch.iter().copied()))
            .collect();
        let keys: Vec<BatchKey> = self.keys.all().collect();
        // The boundary first: replay puts the minute cells after it where
        // they belong, whatever the retention then.
        let records = data
            .boundary()
            .map(Record::Rolled)
            .into_iter()
            .chain(cells.chunks(PER_RECORD).map(|c| Record::Batch {
                key: None,
                samples: c.to_vec(),
            }))
            .chain(keys.chunks(PER_RECORD).map(|k| Record::Keys(k.to_vec())));
        wal.compact(records)
    }
}

#[cfg(test)]
mod durability_tests;
#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Aggregate;
    use crate::sink::sample::{Sample, play_failed};

    fn sample(time_ms: i64, total: u64) -> Sample {
        Sample {
            series: play_failed(400),
            time_ms,
            aggregate: Aggregate {
                count: 2,
                total,
                minimum: 0,
                maximum: total,
            },
        }
    }

    // Issue #9, item 10: totals wrapped (release) or panicked after the log
    // append (debug), leaving count and total inconsistent. Issue #19, item
    // 4: a cell's limit was not enough, as sums across minutes and series
    // wrapped.
    #[test]
    fn a_batch_that_would_overflow_any_sum_is_refused_whole() {
        let store = Store::in_memory(StoreOptions::default());
        let t0 = now();
        assert!(store.apply(None, &[sample(t0, u64::MAX - 1)]).is_ok());
        let err = store
            .apply(None, &[sample(t0 + 5_000, 1), sample(t0, 5)])
            .unwrap_err();
        assert!(
            matches!(err, ApplyError::Overflow { what: "total", .. }),
            "{err}"
        );
        assert_eq!(store.stats().samples, 2, "nothing of it was applied");
        // Another minute, another series of the same metric: a PT1H cell or
        // the metric's total would hold both.
        let next_minute = t0 - t0.rem_euclid(60_000) + 60_000;
        let other_series = Sample {
            series: play_failed(500),
            ..sample(next_minute, 5)
        };
        for batch in [sample(next_minute, 5), other_series] {
            let err = store.apply(None, &[batch]).unwrap_err();
            assert!(matches!(err, ApplyError::Overflow { .. }), "{err}");
        }
        // What still fits is taken: the total reaches exactly 2^64-1.
        assert!(store.apply(None, &[sample(next_minute, 1)]).is_ok());
        let total = store.read(|cells| {
            cells
                .iter()
                .map(|(_, _, a)| u128::from(a.total))
                .sum::<u128>()
        });
        assert_eq!(total, u128::from(u64::MAX));
        // Counts too: 2^63 twice passes 2^64-1.
        let store = Store::in_memory(StoreOptions::default());
        let half = |time_ms| Sample {
            aggregate: Aggregate {
                count: 1 << 63,
                total: 0,
                minimum: 0,
                maximum: 0,
            },
            ..sample(time_ms, 0)
        };
        assert!(store.apply(None, &[half(t0)]).is_ok());
        let err = store.apply(None, &[half(next_minute)]).unwrap_err();
        assert!(
            matches!(err, ApplyError::Overflow { what: "count", .. }),
            "{err}"
        );
        // Another metric has a total of its own.
        let other_metric = Sample {
            series: crate::model::Series::Latency(crate::model::RequestDims {
                operation: crate::catalog::Operation::CreateCall,
                status: 201,
                version: "2025-06-15".parse().unwrap(),
            }),
            ..half(next_minute)
        };
        assert!(store.apply(None, &[other_metric]).is_ok());
    }

    // Issue #19, item 10: a query held the store's lock as long as it ran,
    // and every batch waited for it.
    #[test]
    fn a_batch_is_applied_while_a_query_holds_the_cells() {
        let store = std::sync::Arc::new(Store::in_memory(StoreOptions::default()));
        let t = now();
        store.apply(None, &[with_code(400, t)]).unwrap();
        let count = |view: &View| view.iter().map(|(_, _, a)| a.count).sum::<u64>();
        store.read(|view| {
            let (tx, rx) = std::sync::mpsc::channel();
            let other = store.clone();
            std::thread::spawn(move || {
                let _ = tx.send(other.apply(None, &[with_code(401, t), with_code(400, t)]));
            });
            let applied = rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("the batch waited for the query");
            assert_eq!(applied.unwrap(), Applied::Accepted { samples: 2 });
            // The query started before the batch: it does not see half of it.
            assert_eq!(count(view), 1);
        });
        assert_eq!(store.lock().aside.len(), 1);
        // A later query sees the batch aside, in the cells it will join.
        let bucket = t - t.rem_euclid(1000);
        store.read(|view| {
            assert_eq!(count(view), 3);
            assert_eq!(view.time_range(), Some((bucket, bucket)));
            assert_eq!(view.iter().filter(|(_, b, _)| *b == bucket).count(), 3);
        });
        // The next batch, with no query running, adds the one aside.
        store.apply(None, &[with_code(402, t)]).unwrap();
        assert!(store.lock().aside.is_empty());
        store.read(|view| {
            assert_eq!(count(view), 4);
            assert_eq!(view.iter().count(), 3);
        });
        assert_eq!(store.stats().samples, 4);
    }

    // Queries back to back must not let the batches aside grow without
    // end: past the cap a batch waits for the query, as before.
    #[test]
    fn past_the_aside_cap_a_batch_waits_for_the_query() {
        let store = std::sync::Arc::new(Store::in_memory(StoreOptions::default()));
        let t = now();
        let big = vec![with_code(400, t); MAX_ASIDE_SAMPLES + 1];
        let (tx, rx) = std::sync::mpsc::channel();
        store.read(|_| {
            let other = store.clone();
            std::thread::spawn(move || {
                let _ = tx.send(other.apply(None, &big).is_ok());
            });
            // Long enough for the batch to be checked and logged, and to
            // find the cells held.
            let waited = rx.recv_timeout(std::time::Duration::from_secs(1));
            assert!(waited.is_err(), "the batch went aside past the cap");
        });
        // Added to the cells once the query ended, not set aside.
        assert_eq!(
            rx.recv_timeout(std::time::Duration::from_secs(60)),
            Ok(true)
        );
        assert!(store.lock().aside.is_empty());
        assert_eq!(store.stats().samples, MAX_ASIDE_SAMPLES as u64 + 1);
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    }

    fn with_code(code: u16, time_ms: i64) -> Sample {
        Sample::one(play_failed(code), time_ms, 1)
    }

    // Issue #9, item 13: any u32 sub-code and any year were taken.
    #[test]
    fn series_and_times_are_bounded() {
        let store = Store::in_memory(StoreOptions {
            max_series: 3,
            time_window: std::time::Duration::from_secs(86_400),
            ..StoreOptions::default()
        });
        let t = now();
        let batch: Vec<Sample> = (400..403).map(|c| with_code(c, t)).collect();
        assert!(store.apply(None, &batch).is_ok());
        // Known series keep being taken; a fourth is refused, whole.
        assert!(store.apply(None, &[with_code(401, t)]).is_ok());
        let err = store
            .apply(None, &[with_code(400, t), with_code(404, t)])
            .unwrap_err();
        assert!(
            matches!(
                err,
                ApplyError::TooManySeries {
                    held: 3,
                    new: 1,
                    max: 3
                }
            ),
            "{err}"
        );
        assert_eq!(store.stats().samples, 4);
        for far in [t - 2 * 86_400_000, t + 2 * 86_400_000, i64::MIN / 2] {
            let err = store.apply(None, &[with_code(400, far)]).unwrap_err();
            assert!(
                matches!(err, ApplyError::OutOfWindow { window_days: 1, .. }),
                "{err}"
            );
        }
    }
}
