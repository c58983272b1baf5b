//! Union-find over address ids whose root is always the smallest id in the set.
//!
//! The root is the cluster id. Keeping the oldest address as root (ids are given in order of
//! first appearance) makes ids stable: a cluster that only gains addresses keeps its id, and
//! when two clusters merge the older id survives. Linking by id instead of by size costs the
//! rank guarantee; path halving keeps finds short in practice (measured in BENCHMARKS.md).

pub struct UnionFind {
    parent: Vec<u32>,
    /// Member count, meaningful at roots.
    size: Vec<u32>,
}

/// A union that joined two clusters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Joined {
    /// The surviving cluster id (the older root).
    pub kept: u32,
    /// The retired cluster id.
    pub retired: u32,
    pub kept_size: u32,
    pub retired_size: u32,
}

impl UnionFind {
    /// From stored roots (`parent[a]` = cluster id of `a`) and sizes.
    pub fn from_parts(parent: Vec<u32>, size: Vec<u32>) -> UnionFind {
        debug_assert_eq!(parent.len(), size.len());
        UnionFind { parent, size }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// Adds singleton clusters up to `n` addresses.
    pub fn grow(&mut self, n: usize) {
        let start = self.parent.len();
        self.parent.extend(start as u32..n as u32);
        self.size.resize(n, 1);
    }

    pub fn find(&mut self, mut a: u32) -> u32 {
        while self.parent[a as usize] != a {
            let grand = self.parent[self.parent[a as usize] as usize];
            self.parent[a as usize] = grand;
            a = grand;
        }
        a
    }

    pub fn union(&mut self, a: u32, b: u32) -> Option<Joined> {
        let (ra, rb) = (self.find(a), self.find(b));
        self.union_roots(ra, rb)
    }

    /// `union` for callers that already found both roots.
    pub fn union_roots(&mut self, ra: u32, rb: u32) -> Option<Joined> {
        if ra == rb {
            return None;
        }
        let (kept, retired) = (ra.min(rb), ra.max(rb));
        let j = Joined {
            kept,
            retired,
            kept_size: self.size[kept as usize],
            retired_size: self.size[retired as usize],
        };
        self.parent[retired as usize] = kept;
        self.size[kept as usize] += self.size[retired as usize];
        self.size[retired as usize] = 0;
        Some(j)
    }

    /// Every address pointing straight at its cluster id, and the sizes (0 for non-roots).
    pub fn into_flat(mut self) -> (Vec<u32>, Vec<u32>) {
        // Roots are smaller than their members, so one pass in id order flattens everything:
        // a parent's entry is already final when its member is reached.
        for a in 0..self.parent.len() {
            let p = self.parent[a];
            self.parent[a] = self.parent[p as usize];
        }
        (self.parent, self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_id_survives_and_flattening_is_exact() {
        let mut uf = UnionFind::from_parts(Vec::new(), Vec::new());
        uf.grow(8);
        assert_eq!(
            uf.union(5, 6),
            Some(Joined {
                kept: 5,
                retired: 6,
                kept_size: 1,
                retired_size: 1
            })
        );
        assert_eq!(
            uf.union(7, 6),
            Some(Joined {
                kept: 5,
                retired: 7,
                kept_size: 2,
                retired_size: 1
            })
        );
        assert_eq!(
            uf.union(3, 7),
            Some(Joined {
                kept: 3,
                retired: 5,
                kept_size: 1,
                retired_size: 3
            })
        );
        assert_eq!(uf.union(6, 3), None);
        uf.grow(10);
        assert_eq!(
            uf.union(9, 1),
            Some(Joined {
                kept: 1,
                retired: 9,
                kept_size: 1,
                retired_size: 1
            })
        );
        let (roots, sizes) = uf.into_flat();
        assert_eq!(roots, vec![0, 1, 2, 3, 4, 3, 3, 3, 8, 1]);
        assert_eq!(sizes, vec![1, 2, 1, 4, 1, 0, 0, 0, 1, 0]);
    }
}
