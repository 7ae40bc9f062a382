//! A map kept as one vector sorted by key, for the small per-group tables of this crate and of
//! `kafka-client`.
//!
//! A group's tables hold a handful of entries (its partitions, its topics' ids and leaders),
//! and a process may hold a thousand groups. A `BTreeMap` allocates a node of eleven
//! slots for its first entry; this map allocates room for the entries it has. Lookups are binary
//! searches, iteration is in key order like a `BTreeMap`'s, and the bulk operations
//! ([`extend_absent`](VecMap::extend_absent), [`remove_keys`](VecMap::remove_keys),
//! [`from_unsorted`](VecMap::from_unsorted)) are `O(n log n)`, so tables of many thousands of
//! partitions stay cheap to build and to shrink.

use alloc::vec::Vec;
use core::borrow::Borrow;

/// A map from `K` to `V` in one vector sorted by key, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// An empty map; allocates nothing.
    #[must_use]
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// A map of `entries` in any order; of entries with equal keys the last one is kept (as
    /// repeated `BTreeMap::insert` calls would).
    #[must_use]
    pub fn from_unsorted(mut entries: Vec<(K, V)>) -> Self {
        // Stable: equal keys keep their input order, so the last of each run is the newest.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(K, V)> = Vec::with_capacity(entries.len());
        for e in entries {
            match out.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => out.push(e),
            }
        }
        out.shrink_to_fit();
        Self(out)
    }

    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the map has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Removes every entry and gives back the room.
    pub fn clear(&mut self) {
        self.0 = Vec::new();
    }

    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// The value of `key`, mutably.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }

    /// Whether `key` has an entry.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).is_ok()
    }

    /// Sets the value of `key` and returns the old one.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(core::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key` and returns its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let i = self.find(key).ok()?;
        let (_, v) = self.0.remove(i);
        self.shrink();
        Some(v)
    }

    /// Adds the entries whose keys are not in the map yet (existing entries are left as they
    /// are; of repeated new keys the first is kept), making room for exactly what is added.
    pub fn extend_absent(&mut self, entries: impl IntoIterator<Item = (K, V)>) {
        let old = self.0.len();
        for (k, v) in entries {
            if self.0[..old].binary_search_by(|(x, _)| x.cmp(&k)).is_err() {
                self.0.push((k, v));
            }
        }
        if self.0.len() == old {
            return;
        }
        // Stable: the first of repeated new keys stays in front of its run.
        self.0.sort_by(|a, b| a.0.cmp(&b.0));
        self.0.dedup_by(|later, earlier| later.0 == earlier.0);
        self.0.shrink_to_fit();
    }

    /// Removes the entries of `keys` (in any order, repeats allowed) and returns them in key
    /// order.
    pub fn remove_keys<Q>(&mut self, keys: &[&Q]) -> Vec<(K, V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let mut doomed: Vec<&Q> = keys.to_vec();
        doomed.sort_unstable();
        let mut removed = Vec::new();
        let mut kept = Vec::with_capacity(self.0.len());
        for (k, v) in core::mem::take(&mut self.0) {
            if doomed.binary_search(&k.borrow()).is_ok() {
                removed.push((k, v));
            } else {
                kept.push((k, v));
            }
        }
        kept.shrink_to_fit();
        self.0 = kept;
        removed
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }

    /// The values in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    /// The values in key order, mutably.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    /// Gives back all unused room.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }

    /// Gives back room when at most half of it is used.
    fn shrink(&mut self) {
        if self.0.len() <= self.0.capacity() / 2 {
            self.0.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;
    use alloc::vec;
    use alloc::vec::Vec;

    use proptest::prelude::*;

    use super::VecMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u16),
        Remove(u8),
        Extend(Vec<(u8, u16)>),
        RemoveKeys(Vec<u8>),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Insert(k % 32, v)),
            any::<u8>().prop_map(|k| Op::Remove(k % 32)),
            proptest::collection::vec((0u8..32, any::<u16>()), 0..12).prop_map(Op::Extend),
            proptest::collection::vec(0u8..32, 0..12).prop_map(Op::RemoveKeys),
        ]
    }

    proptest! {
        /// Every operation agrees with a `BTreeMap` doing the same, and the vector stays sorted
        /// without duplicates.
        #[test]
        fn behaves_like_a_btree_map(
            start in proptest::collection::vec((0u8..32, any::<u16>()), 0..20),
            ops in proptest::collection::vec(op(), 0..40),
        ) {
            let mut m = VecMap::from_unsorted(start.clone());
            let mut b: BTreeMap<u8, u16> = start.into_iter().collect();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(m.insert(k, v), b.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(m.remove(&k), b.remove(&k)),
                    Op::Extend(es) => {
                        for &(k, v) in &es {
                            b.entry(k).or_insert(v);
                        }
                        m.extend_absent(es);
                    }
                    Op::RemoveKeys(ks) => {
                        let refs: Vec<&u8> = ks.iter().collect();
                        let got = m.remove_keys(&refs);
                        let mut want = Vec::new();
                        for k in &ks {
                            if let Some(v) = b.remove(k) {
                                want.push((*k, v));
                            }
                        }
                        want.sort_unstable();
                        prop_assert_eq!(got, want);
                    }
                }
                let mine: Vec<(u8, u16)> = m.iter().map(|(k, v)| (*k, *v)).collect();
                let theirs: Vec<(u8, u16)> = b.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(mine, theirs);
                prop_assert_eq!(m.len(), b.len());
                for k in 0..32u8 {
                    prop_assert_eq!(m.get(&k), b.get(&k));
                    prop_assert_eq!(m.contains_key(&k), b.contains_key(&k));
                }
            }
        }
    }

    #[test]
    fn room_follows_the_entries() {
        let mut m = VecMap::new();
        m.extend_absent((0..8u32).map(|k| (k, k)));
        assert_eq!(m.0.capacity(), 8);
        m.remove_keys(&[&0, &1, &2, &3, &4, &5]);
        assert_eq!(m.0.capacity(), 2);
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), vec![6, 7]);
        m.remove(&6);
        m.remove(&7);
        assert_eq!(m.0.capacity(), 0);
        assert!(m.is_empty());
    }

    #[test]
    fn from_unsorted_keeps_the_last_of_equal_keys() {
        let m = VecMap::from_unsorted(vec![(2, 'a'), (1, 'b'), (2, 'c')]);
        assert_eq!(
            m.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
            vec![(1, 'b'), (2, 'c')]
        );
    }
}
