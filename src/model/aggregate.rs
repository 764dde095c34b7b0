//! The aggregate of a cell: count, total, minimum and maximum (average
//! derives from them). Sample values are whole numbers (1 per request or
//! callback, latency in ms), so totals are exact integers at any volume.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aggregate {
    pub count: u64,
    pub total: u64,
    pub minimum: u64,
    pub maximum: u64,
}

impl Aggregate {
    /// The aggregate of one sample.
    pub fn of(value: u64) -> Aggregate {
        Aggregate {
            count: 1,
            total: value,
            minimum: value,
            maximum: value,
        }
    }

    /// Folds another aggregate of the same series into this one.
    pub fn absorb(&mut self, other: &Aggregate) {
        self.count += other.count;
        self.total += other.total;
        self.minimum = self.minimum.min(other.minimum);
        self.maximum = self.maximum.max(other.maximum);
    }

    pub fn average(&self) -> f64 {
        self.total as f64 / self.count as f64
    }
}
