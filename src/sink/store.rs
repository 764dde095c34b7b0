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
use super::wal::{BatchKey, OpenReport, Record, Route, Wal, WalError};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

/// Cells or keys per record of a compacted log.
const PER_RECORD: usize = 10_000;

/// Samples kept aside at most while queries hold the cells; past it a batch
/// waits for the queries, so queries running back to back cannot make the
/// aside batches (which every query reads in full) grow without end.
const MAX_ASIDE_SAMPLES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
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
pub enum ApplyError {
    #[error("cannot write the log: {0}")]
    Log(#[from] io::Error),
    #[error("the batch would take the total of {series} past 2^64-1; no aggregate may overflow")]
    Overflow { series: String },
    #[error(
        "the sink holds {held} series and this batch adds {new} more, past --max-series {max}; \
         raise it, or check the batch's dimension values (a sub-code or status that should not \
         vary?)"
    )]
    TooManySeries { held: usize, new: usize, max: usize },
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
    pub batches: u64,
    pub duplicates: u64,
    pub samples: u64,
    pub replayed_batches: u64,
    pub compactions: u64,
}

/// Idempotency keys of applied batches, oldest first, at most `max`.
struct Keys {
    /// Per route (`Route as usize - 1`): key -> body digest.
    digests: [FxHashMap<Box<str>, Option<[u8; 16]>>; 3],
    order: VecDeque<(Route, Box<str>)>,
    max: usize,
}

impl Keys {
    fn get(&self, route: Route, key: &str) -> Option<Option<[u8; 16]>> {
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
    time_window_ms: i64,
    keys: Keys,
    wal: Option<Wal>,
    compact_after: u64,
    stats: StoreStats,
    /// Count and total of everything ever stored: while they fit in 64
    /// bits, no cell can overflow.
    grand: (u128, u128),
}

/// Batches are applied one at a time under `inner`; queries share `cells`,
/// so the checker's parallel queries run side by side, and ingest does not
/// wait for them.
pub struct Store {
    inner: Mutex<Inner>,
    /// Only taken for writing while holding `inner`.
    cells: RwLock<Cells>,
}

impl Store {
    /// An in-memory store.
    pub fn in_memory(options: StoreOptions) -> Store {
        Store {
            inner: Mutex::new(Inner::new(options)),
            cells: RwLock::new(Cells::new(options.per_second_retention)),
        }
    }

    /// A store backed by `data_dir/wal.log`, replayed now (and rewritten
    /// when it was of an older version or repaired).
    pub fn open(data_dir: &Path, options: StoreOptions) -> Result<(Store, OpenReport), WalError> {
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
    pub fn apply(&self, key: Option<&BatchKey>, samples: &[Sample]) -> Result<Applied, ApplyError> {
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
        let new_series = inner.check_limits(samples)?;
        inner.check_overflow(samples, &self.read_cells())?;
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
        if inner
            .wal
            .as_ref()
            .is_some_and(|w| w.growth() >= inner.compact_after.max(w.len() - w.growth()))
        {
            // The batch is durable already; a failed compaction leaves the
            // old log in place and is tried again after the next batch.
            if inner.compact(&self.read_cells()).is_ok() {
                inner.stats.compactions += 1;
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
    pub fn read<R>(&self, f: impl FnOnce(&View) -> R) -> R {
        // The cells are taken before the batches aside are copied, both
        // under `inner`: no batch can move from one to the other between.
        let inner = self.lock();
        let cells = self.read_cells();
        let aside = inner.aside.clone();
        drop(inner);
        f(&View::new(&cells, &aside))
    }

    pub fn stats(&self) -> StoreStats {
        self.lock().stats
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
            time_window_ms: options.time_window.as_millis().min(i64::MAX as u128) as i64,
            keys: Keys {
                digests: Default::default(),
                order: VecDeque::new(),
                max: options.max_keys.max(1),
            },
            wal: None,
            compact_after: options.compact_after,
            stats: StoreStats::default(),
            grand: (0, 0),
        }
    }

    /// Counts a batch (its cells are added apart); `new_series` holds (at
    /// least) the series it brings that the store did not hold yet.
    fn count(&mut self, samples: &[Sample], new_series: FxHashSet<u64>) {
        self.series.extend(new_series);
        for s in samples {
            self.grand.0 += s.aggregate.count as u128;
            self.grand.1 += s.aggregate.total as u128;
        }
        self.stats.batches += 1;
        self.stats.samples += events(samples);
    }

    /// Refuses a batch with a sample outside the time window or one that
    /// would take the series past --max-series, before anything is logged;
    /// else returns the series the batch adds. (Replay applies what the
    /// log holds, whatever the limits now.)
    fn check_limits(&self, samples: &[Sample]) -> Result<FxHashSet<u64>, ApplyError> {
        let now = now_ms();
        let window = self.time_window_ms;
        // Past the last day, times (and the day buckets holding them) have
        // no RFC 3339 text, whatever --time-window allows.
        let last = now.saturating_add(window).min(crate::engine::LAST_EVENT_MS);
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
        Ok(new)
    }

    /// Refuses a batch that would overflow a cell's count or total, before
    /// anything is logged.
    fn check_overflow(&self, samples: &[Sample], cells: &Cells) -> Result<(), ApplyError> {
        // No cell can overflow while everything ever stored would fit in one.
        let (count, total) = samples.iter().fold((0u128, 0u128), |(c, t), s| {
            (c + s.aggregate.count as u128, t + s.aggregate.total as u128)
        });
        let max = u64::MAX as u128;
        if self.grand.0 + count <= max && self.grand.1 + total <= max {
            return Ok(());
        }
        let overflow = |series: crate::engine::Series| ApplyError::Overflow {
            series: format!("{:?}", series.dimension_values()),
        };
        // (series, minute) -> (series, count, total) the batch adds: cells
        // are rolled into minutes, so no minute may overflow either.
        let mut sums: FxHashMap<(u64, i64), (crate::engine::Series, u64, u64)> =
            FxHashMap::default();
        for s in samples {
            let packed = s.series.pack();
            let cell = sums
                .entry((packed, crate::engine::Grain::MINUTE.bucket(s.time_ms)))
                .or_insert((s.series, 0, 0));
            cell.1 = cell
                .1
                .checked_add(s.aggregate.count)
                .ok_or_else(|| overflow(s.series))?;
            cell.2 = cell
                .2
                .checked_add(s.aggregate.total)
                .ok_or_else(|| overflow(s.series))?;
        }
        for ((packed, minute), (series, count, total)) in sums {
            let mut have = cells.minute_sum(packed, minute);
            for s in self.aside.iter().flat_map(|batch| batch.iter()) {
                if s.series.pack() == packed
                    && crate::engine::Grain::MINUTE.bucket(s.time_ms) == minute
                {
                    have.0 += s.aggregate.count as u128;
                    have.1 += s.aggregate.total as u128;
                }
            }
            if have.0 + count as u128 > max || have.1 + total as u128 > max {
                return Err(overflow(series));
            }
        }
        Ok(())
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
mod tests {
    use super::*;
    use crate::engine::Aggregate;
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
    // append (debug), leaving count and total inconsistent.
    #[test]
    fn a_batch_that_would_overflow_a_cell_is_refused_whole() {
        let store = Store::in_memory(StoreOptions::default());
        let t0 = now();
        assert!(store.apply(None, &[sample(t0, u64::MAX - 1)]).is_ok());
        let err = store
            .apply(None, &[sample(t0 + 5_000, 1), sample(t0, 5)])
            .unwrap_err();
        assert!(matches!(err, ApplyError::Overflow { .. }), "{err}");
        // Nothing of the refused batch was applied; another cell still takes data.
        assert_eq!(store.stats().samples, 2);
        // Another minute still takes data; the same minute does not, even
        // in another second: its cells are one minute cell once rolled.
        let next_minute = t0 - t0.rem_euclid(60_000) + 60_000;
        assert!(store.apply(None, &[sample(next_minute, 5)]).is_ok());
        assert_eq!(store.stats().samples, 4);
        let same_minute = t0 - t0.rem_euclid(60_000) + (t0.rem_euclid(60_000) + 1000) % 60_000;
        let err = store.apply(None, &[sample(same_minute, 5)]).unwrap_err();
        assert!(matches!(err, ApplyError::Overflow { .. }), "{err}");
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
