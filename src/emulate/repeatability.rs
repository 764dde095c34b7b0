//! `Repeatability-Request-ID`: the SDKs send one id with every try of a
//! non-idempotent call (Create Call, Answer, Transfer, Add Participant...),
//! and the service must not execute a repeat twice. As ACS's published
//! repeatability table says (docs/sources.md): within the 5-minute window
//! a repeat with the same body gets the first answer again
//! (`Repeatability-Result: accepted`), one with another body is refused
//! (400, `rejected`), and a first answer that was a 5xx is not kept, so
//! the repeat is executed.

use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long an id is remembered.
pub(super) const WINDOW: Duration = Duration::from_secs(300);

/// A first answer, kept for its repeats.
#[derive(Clone)]
pub(super) struct FirstAnswer {
    pub status: u16,
    pub body: bytes::Bytes,
}

struct Kept {
    body_digest: [u8; 32],
    answer: FirstAnswer,
}

/// What a request with an id is.
pub(super) enum Repeat {
    /// Not seen within the window: execute it.
    New,
    /// Seen with the same body: answer as the first time.
    Same(FirstAnswer),
    /// Seen with another body: refuse it.
    OtherBody,
}

#[derive(Default)]
pub(super) struct Repeats {
    kept: FxHashMap<String, Kept>,
    /// Ids in the order they were kept, to forget them after the window.
    order: VecDeque<(Instant, String)>,
}

impl Repeats {
    pub(super) fn find(&mut self, id: &str, body_digest: [u8; 32], now: Instant) -> Repeat {
        self.forget_before(now);
        match self.kept.get(id) {
            None => Repeat::New,
            Some(k) if k.body_digest == body_digest => Repeat::Same(k.answer.clone()),
            Some(_) => Repeat::OtherBody,
        }
    }

    /// Keeps the first answer to `id` (a 5xx is not kept: its repeat is
    /// executed again).
    pub(super) fn keep(
        &mut self,
        id: &str,
        body_digest: [u8; 32],
        answer: FirstAnswer,
        now: Instant,
    ) {
        if answer.status >= 500 || self.kept.contains_key(id) {
            return;
        }
        self.kept.insert(
            id.to_string(),
            Kept {
                body_digest,
                answer,
            },
        );
        self.order.push_back((now, id.to_string()));
    }

    fn forget_before(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.duration_since(*at) < WINDOW {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.kept.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> FirstAnswer {
        FirstAnswer {
            status,
            body: bytes::Bytes::from_static(b"{}"),
        }
    }

    #[test]
    fn a_repeat_gets_the_first_answer_within_the_window_only() {
        let mut r = Repeats::default();
        let t = Instant::now();
        assert!(matches!(r.find("a", [1; 32], t), Repeat::New));
        r.keep("a", [1; 32], answer(201), t);
        assert!(matches!(r.find("a", [1; 32], t), Repeat::Same(a) if a.status == 201));
        assert!(matches!(r.find("a", [2; 32], t), Repeat::OtherBody));
        assert!(matches!(r.find("a", [1; 32], t + WINDOW), Repeat::New));
    }

    #[test]
    fn a_server_error_is_executed_again() {
        let mut r = Repeats::default();
        let t = Instant::now();
        r.keep("a", [1; 32], answer(503), t);
        assert!(matches!(r.find("a", [1; 32], t), Repeat::New));
        r.keep("a", [1; 32], answer(201), t);
        r.keep("a", [1; 32], answer(400), t);
        assert!(matches!(r.find("a", [1; 32], t), Repeat::Same(a) if a.status == 201));
    }
}
