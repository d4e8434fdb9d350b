//! The devices' server-side TLS session store.
//!
//! rustls's `ServerSessionMemoryCache` searches its eviction queue on every `take`, and TLS 1.3
//! resumption takes one session per handshake: with the thousands of sessions a fleet keeps,
//! that search dominated the simulator's CPU time. This store does every operation in constant
//! (amortised) time, with the same contract: bounded, oldest evicted first, a taken session gone.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustls::server::StoresServerSessions;

/// A bounded in-memory store of TLS sessions (TLS 1.2 session IDs, TLS 1.3 stateful tickets).
#[derive(Debug)]
pub(crate) struct SessionStore {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Each session with the generation it was stored at.
    sessions: HashMap<Vec<u8>, (u64, Vec<u8>)>,
    /// Keys in the order stored, with their generation; entries whose session was taken or
    /// overwritten since are stale and skipped.
    order: VecDeque<(u64, Vec<u8>)>,
    next_generation: u64,
}

impl Inner {
    fn is_live(&self, generation: u64, key: &[u8]) -> bool {
        self.sessions
            .get(key)
            .is_some_and(|(stored, _)| *stored == generation)
    }
}

impl SessionStore {
    /// A store that keeps at most `capacity` sessions (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn order_len(&self) -> usize {
        self.lock().order.len()
    }
}

impl StoresServerSessions for SessionStore {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let mut inner = self.lock();
        let generation = inner.next_generation;
        inner.next_generation += 1;
        inner.order.push_back((generation, key.clone()));
        inner.sessions.insert(key, (generation, value));
        while inner.sessions.len() > self.capacity {
            let Some((generation, key)) = inner.order.pop_front() else {
                break;
            };
            if inner.is_live(generation, &key) {
                inner.sessions.remove(&key);
            }
        }
        // Taken sessions leave stale entries behind; drop them once they outnumber the live
        // ones, so the queue stays within twice the capacity (amortised constant time).
        if inner.order.len() > 2 * self.capacity {
            let Inner {
                sessions, order, ..
            } = &mut *inner;
            order.retain(|(generation, key)| {
                sessions
                    .get(key)
                    .is_some_and(|(stored, _)| stored == generation)
            });
        }
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.lock()
            .sessions
            .get(key)
            .map(|(_, value)| value.clone())
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.lock().sessions.remove(key).map(|(_, value)| value)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> Vec<u8> {
        n.to_be_bytes().to_vec()
    }

    #[test]
    fn sessions_are_stored_read_and_taken_once() {
        let store = SessionStore::new(4);
        assert!(store.put(key(1), b"one".to_vec()));
        assert_eq!(store.get(&key(1)), Some(b"one".to_vec()));
        assert_eq!(store.take(&key(1)), Some(b"one".to_vec()));
        assert_eq!(store.take(&key(1)), None);
        assert_eq!(store.get(&key(1)), None);
        assert!(store.can_cache());
    }

    #[test]
    fn the_oldest_session_goes_first_when_full() {
        let store = SessionStore::new(3);
        for n in 1..=4 {
            store.put(key(n), vec![u8::try_from(n).unwrap()]);
        }
        assert_eq!(store.get(&key(1)), None, "evicted");
        for n in 2..=4 {
            assert!(store.get(&key(n)).is_some(), "{n} kept");
        }
        // Overwriting refreshes: 2 is now the newest, so 3 goes next.
        store.put(key(2), b"again".to_vec());
        store.put(key(5), b"five".to_vec());
        assert_eq!(store.get(&key(3)), None);
        assert_eq!(store.get(&key(2)), Some(b"again".to_vec()));
        assert!(store.get(&key(4)).is_some() && store.get(&key(5)).is_some());
    }

    #[test]
    fn taken_sessions_do_not_grow_the_queue_without_bound() {
        let store = SessionStore::new(8);
        for n in 0..10_000 {
            store.put(key(n), b"ticket".to_vec());
            assert!(store.take(&key(n)).is_some());
        }
        assert!(store.order_len() <= 16, "{}", store.order_len());
        // Still a working store afterwards.
        store.put(key(1), b"x".to_vec());
        assert_eq!(store.take(&key(1)), Some(b"x".to_vec()));
    }
}
