//! Disclosure control of the reports: which cells of a hierarchical table may be published.
//!
//! A report is a table whose dimensions are hierarchies (platform → organisation → office;
//! year → quarter → month; items, each its own root so that nothing adds items together). Every
//! cell holds the number of distinct customers behind it. The rules:
//!
//! - **Primary suppression**: a cell with `0 < n < threshold` is not published (the threshold is
//!   at least 15 in production, [`Threshold::production`]).
//! - **Secondary suppression** by Statistics Norway's Gaussian-elimination method: a cell is
//!   seen as the sum of the inner cells (leaf × leaf) below it. Candidates are tried for
//!   publication in a stable order — zeros first, then the largest counts, so that suppression
//!   falls on the smallest cells first — and a candidate is suppressed when publishing it would
//!   make a primary cell a linear combination of the published ones. Exact integer arithmetic
//!   (fraction-free elimination over `i128`, rows kept divided by their gcd); no floats. Should a
//!   number ever not fit, the candidate is suppressed: suppressing more is always safe.
//! - **Sums of suppressed cells**: where the suppressed children of one margin add up to a
//!   derivable sum between 1 and `threshold − 1` (the singleton problem), that sum becomes a
//!   primary cell of its own and the pattern is computed again, until no such sum remains.
//!
//! One pattern serves every statistic of a cell (count, mean, band shares, impact):
//! [`Pattern::apply`]. The same table gives the same pattern.

use std::collections::{BTreeMap, BTreeSet};

/// The smallest threshold of production settings.
pub const PRODUCTION_MIN: u32 = 15;
/// Most cells a table may have (a report is cut into tables, one per item, before this).
pub const CELLS_MAX: usize = 200_000;

/// How many distinct customers a published cell needs at least.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold(u32);

impl Threshold {
    /// A production threshold: never below [`PRODUCTION_MIN`].
    pub fn production(n: u32) -> Option<Self> {
        (n >= PRODUCTION_MIN).then_some(Self(n))
    }

    /// A threshold for development and tests, where small numbers make tables readable; at least 2.
    pub fn development(n: u32) -> Option<Self> {
        (n >= 2).then_some(Self(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    fn is_primary(self, n: u64) -> bool {
        n > 0 && n < u64::from(self.0)
    }
}

impl Default for Threshold {
    fn default() -> Self {
        Self(PRODUCTION_MIN)
    }
}

/// Why a table could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("a dimension has no nodes")]
    EmptyDimension,
    #[error("unknown parent node")]
    UnknownParent,
    #[error("a code is repeated within a dimension")]
    RepeatedCode,
    #[error("the table has too many cells")]
    TooLarge,
    #[error("the coordinates do not name a cell")]
    NoSuchCell,
}

/// One dimension: a forest of codes (several roots when the dimension has no total).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hierarchy {
    codes: Vec<String>,
    parents: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
}

impl Hierarchy {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node under `parent` (`None`: a root) and returns its index.
    pub fn add(&mut self, code: impl Into<String>, parent: Option<usize>) -> Result<usize, TableError> {
        let code = code.into();
        if parent.is_some_and(|p| p >= self.codes.len()) {
            return Err(TableError::UnknownParent);
        }
        if self.codes.contains(&code) {
            return Err(TableError::RepeatedCode);
        }
        let index = self.codes.len();
        self.codes.push(code);
        self.parents.push(parent);
        self.children.push(Vec::new());
        if let Some(parent) = parent {
            self.children[parent].push(index);
        }
        Ok(index)
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    pub fn code(&self, node: usize) -> Option<&str> {
        self.codes.get(node).map(String::as_str)
    }

    pub fn children(&self, node: usize) -> &[usize] {
        self.children.get(node).map_or(&[], Vec::as_slice)
    }

    /// The leaves, in node order.
    fn leaves(&self) -> Vec<usize> {
        (0..self.len()).filter(|n| self.children[*n].is_empty()).collect()
    }

    /// Whether `node` is `ancestor` or below it.
    fn is_under(&self, mut node: usize, ancestor: usize) -> bool {
        loop {
            if node == ancestor {
                return true;
            }
            match self.parents[node] {
                Some(parent) => node = parent,
                None => return false,
            }
        }
    }
}

/// The counts of distinct customers of every cell (every combination of one node per dimension).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    dimensions: Vec<Hierarchy>,
    counts: Vec<u64>,
}

impl Table {
    /// A table of zeros over `dimensions`.
    pub fn new(dimensions: Vec<Hierarchy>) -> Result<Self, TableError> {
        if dimensions.is_empty() || dimensions.iter().any(Hierarchy::is_empty) {
            return Err(TableError::EmptyDimension);
        }
        let cells = dimensions.iter().try_fold(1usize, |acc, d| acc.checked_mul(d.len()).filter(|c| *c <= CELLS_MAX));
        let cells = cells.ok_or(TableError::TooLarge)?;
        Ok(Self { dimensions, counts: vec![0; cells] })
    }

    pub fn dimensions(&self) -> &[Hierarchy] {
        &self.dimensions
    }

    /// How many cells the table has.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The cell's index from one node per dimension.
    pub fn index(&self, coordinates: &[usize]) -> Option<usize> {
        if coordinates.len() != self.dimensions.len() {
            return None;
        }
        let mut index = 0;
        for (dimension, node) in self.dimensions.iter().zip(coordinates) {
            if *node >= dimension.len() {
                return None;
            }
            index = index * dimension.len() + node;
        }
        Some(index)
    }

    /// The cell's nodes, one per dimension.
    pub fn coordinates(&self, mut index: usize) -> Vec<usize> {
        let mut coordinates = vec![0; self.dimensions.len()];
        for (slot, dimension) in coordinates.iter_mut().zip(&self.dimensions).rev() {
            *slot = index % dimension.len();
            index /= dimension.len();
        }
        coordinates
    }

    pub fn set(&mut self, coordinates: &[usize], count: u64) -> Result<(), TableError> {
        let index = self.index(coordinates).ok_or(TableError::NoSuchCell)?;
        self.counts[index] = count;
        Ok(())
    }

    pub fn count(&self, index: usize) -> Option<u64> {
        self.counts.get(index).copied()
    }

    /// The inner cells (one leaf per dimension) below a cell, as sorted indices over the
    /// product of the leaves.
    fn inner_cells(&self, index: usize, leaves: &[Vec<usize>]) -> Vector {
        let coordinates = self.coordinates(index);
        let mut below: Vec<Vec<usize>> = Vec::with_capacity(coordinates.len());
        for ((dimension, node), leaves) in self.dimensions.iter().zip(&coordinates).zip(leaves) {
            below.push((0..leaves.len()).filter(|l| dimension.is_under(leaves[*l], *node)).collect());
        }
        let mut inner = vec![0usize];
        for (positions, leaves) in below.iter().zip(leaves) {
            inner = inner.iter().flat_map(|base| positions.iter().map(move |p| base * leaves.len() + p)).collect();
        }
        inner.sort_unstable();
        Vector(inner.into_iter().map(|i| (i, 1)).collect())
    }
}

/// What happens to a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Published,
    /// Too few customers (`0 < n < threshold`).
    Primary,
    /// Suppressed so that no primary cell can be derived from the published ones.
    Secondary,
}

/// A statistic of a cell as a report shows it.
#[derive(Clone, Debug, PartialEq)]
pub enum Shown<T> {
    Value(T),
    Suppressed,
}

/// The suppression pattern of a table: one status per cell, shared by all its statistics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    statuses: Vec<Status>,
}

impl Pattern {
    pub fn status(&self, index: usize) -> Option<Status> {
        self.statuses.get(index).copied()
    }

    pub fn is_published(&self, index: usize) -> bool {
        self.status(index) == Some(Status::Published)
    }

    pub fn statuses(&self) -> &[Status] {
        &self.statuses
    }

    /// A statistic per cell (in cell order) as the report shows it: suppressed cells hide it.
    pub fn apply<T: Clone>(&self, values: &[T]) -> Vec<Shown<T>> {
        values
            .iter()
            .zip(&self.statuses)
            .map(|(value, status)| match status {
                Status::Published => Shown::Value(value.clone()),
                Status::Primary | Status::Secondary => Shown::Suppressed,
            })
            .collect()
    }
}

/// Computes the suppression pattern of `table`.
pub fn suppress(table: &Table, threshold: Threshold) -> Pattern {
    let leaves: Vec<Vec<usize>> = table.dimensions.iter().map(Hierarchy::leaves).collect();
    let vectors: Vec<Vector> = (0..table.len()).map(|i| table.inner_cells(i, &leaves)).collect();
    let primary: Vec<usize> = (0..table.len()).filter(|i| threshold.is_primary(table.counts[*i])).collect();
    let order = candidates(table, &vectors, &primary);
    let mut extra: Vec<Vector> = Vec::new();
    loop {
        let mut protected: Vec<Vector> = primary.iter().map(|i| vectors[*i].clone()).collect();
        protected.extend(extra.iter().cloned());
        let (statuses, basis) = eliminate(table.len(), &primary, &order, &vectors, protected);
        let sums = derivable_small_sums(table, &vectors, &statuses, &basis, threshold);
        let new: Vec<Vector> = sums.into_iter().filter(|s| !extra.contains(s)).collect();
        if new.is_empty() {
            return Pattern { statuses };
        }
        extra.extend(new);
    }
}

/// Every cell that is not primary, in the order they are tried for publication: zeros first,
/// then the largest count, then the cell made of more inner cells, then the cell order.
fn candidates(table: &Table, vectors: &[Vector], primary: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..table.len()).filter(|i| primary.binary_search(i).is_err()).collect();
    order.sort_by(|a, b| {
        let (na, nb) = (table.counts[*a], table.counts[*b]);
        (na != 0).cmp(&(nb != 0)).then(nb.cmp(&na)).then(vectors[*b].0.len().cmp(&vectors[*a].0.len())).then(a.cmp(b))
    });
    order
}

/// The Gaussian elimination: publishes each candidate in order unless it would make a
/// protected vector (a primary cell, or a small sum) a combination of the published ones.
fn eliminate(
    cells: usize,
    primary: &[usize],
    order: &[usize],
    vectors: &[Vector],
    protected: Vec<Vector>,
) -> (Vec<Status>, Basis) {
    let mut statuses = vec![Status::Published; cells];
    for i in primary {
        statuses[*i] = Status::Primary;
    }
    let mut basis = Basis::default();
    // Each protected vector, reduced by the basis (zero at every pivot).
    let mut protected: Vec<Vector> = protected;
    for &candidate in order {
        let Some(reduced) = basis.reduce(&vectors[candidate]) else {
            statuses[candidate] = Status::Secondary;
            continue;
        };
        let Some(&(pivot, pivot_value)) = reduced.0.first() else {
            // Already a combination of published cells: publishing it reveals nothing new.
            continue;
        };
        let mut updated = Vec::with_capacity(protected.len());
        let mut eliminates = false;
        for p in &protected {
            let Some(factor) = p.at(pivot) else {
                updated.push(None);
                continue;
            };
            match p.combine(pivot_value, factor, &reduced) {
                Some(next) if next.0.is_empty() => {
                    eliminates = true;
                    break;
                }
                Some(next) => updated.push(Some(next)),
                None => {
                    // The arithmetic does not fit: suppress, which is always safe.
                    eliminates = true;
                    break;
                }
            }
        }
        if eliminates {
            statuses[candidate] = Status::Secondary;
            continue;
        }
        for (p, next) in protected.iter_mut().zip(updated) {
            if let Some(next) = next {
                *p = next;
            }
        }
        basis.push(pivot, reduced);
    }
    (statuses, basis)
}

/// The sums of the suppressed children of one margin (two or more of them) that the published
/// cells reveal and that are between 1 and `threshold − 1`.
fn derivable_small_sums(
    table: &Table,
    vectors: &[Vector],
    statuses: &[Status],
    basis: &Basis,
    threshold: Threshold,
) -> Vec<Vector> {
    let mut sums = Vec::new();
    for index in 0..table.len() {
        let coordinates = table.coordinates(index);
        for (d, dimension) in table.dimensions.iter().enumerate() {
            let children = dimension.children(coordinates[d]);
            if children.len() < 2 {
                continue;
            }
            let mut suppressed = Vec::new();
            for child in children {
                let mut at = coordinates.clone();
                at[d] = *child;
                if let Some(i) = table.index(&at)
                    && statuses[i] != Status::Published
                {
                    suppressed.push(i);
                }
            }
            if suppressed.len() < 2 {
                continue;
            }
            let total: u64 = suppressed.iter().map(|i| table.counts[*i]).sum();
            if !threshold.is_primary(total) {
                continue;
            }
            let sum = suppressed.iter().fold(Vector::default(), |acc, i| acc.add(&vectors[*i]));
            // A sum that does not reduce to zero is not derivable; one that cannot be computed
            // is treated as derivable (protected), which is safe.
            let derivable = basis.reduce(&sum).is_none_or(|r| r.0.is_empty());
            if derivable && !sums.contains(&sum) {
                sums.push(sum);
            }
        }
    }
    sums
}

/// A sparse integer vector over the inner cells: sorted `(position, non-zero value)` pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Vector(Vec<(usize, i128)>);

impl Vector {
    fn at(&self, position: usize) -> Option<i128> {
        self.0.binary_search_by_key(&position, |(p, _)| *p).ok().map(|i| self.0[i].1)
    }

    /// `a·self − b·other`, divided by the gcd of its entries; `None` on overflow.
    fn combine(&self, a: i128, b: i128, other: &Vector) -> Option<Vector> {
        let mut out = Vec::with_capacity(self.0.len() + other.0.len());
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() || j < other.0.len() {
            let (position, value) = match (self.0.get(i), other.0.get(j)) {
                (Some(&(p, x)), Some(&(q, _))) if p < q => {
                    i += 1;
                    (p, a.checked_mul(x)?)
                }
                (Some(&(p, _)), Some(&(q, y))) if q < p => {
                    j += 1;
                    (q, b.checked_mul(y)?.checked_neg()?)
                }
                (Some(&(p, x)), Some(&(_, y))) => {
                    i += 1;
                    j += 1;
                    (p, a.checked_mul(x)?.checked_sub(b.checked_mul(y)?)?)
                }
                (Some(&(p, x)), None) => {
                    i += 1;
                    (p, a.checked_mul(x)?)
                }
                (None, Some(&(q, y))) => {
                    j += 1;
                    (q, b.checked_mul(y)?.checked_neg()?)
                }
                (None, None) => break,
            };
            if value != 0 {
                out.push((position, value));
            }
        }
        let divisor = out.iter().fold(0i128, |g, (_, v)| gcd(g, *v));
        if divisor > 1 {
            for entry in &mut out {
                entry.1 /= divisor;
            }
        }
        Some(Vector(out))
    }

    /// The sum of two 0/1 cell vectors (cells of one margin are disjoint).
    fn add(&self, other: &Vector) -> Vector {
        let mut merged: BTreeMap<usize, i128> = self.0.iter().copied().collect();
        for (p, v) in &other.0 {
            *merged.entry(*p).or_insert(0) += v;
        }
        Vector(merged.into_iter().filter(|(_, v)| *v != 0).collect())
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    i128::try_from(a).unwrap_or(1)
}

/// The published vectors in echelon form: row `j` is zero at the pivots of rows before it.
#[derive(Default)]
struct Basis {
    rows: Vec<(usize, Vector)>,
    /// Pivot position → row.
    pivots: BTreeMap<usize, usize>,
}

impl Basis {
    fn push(&mut self, pivot: usize, row: Vector) {
        self.pivots.insert(pivot, self.rows.len());
        self.rows.push((pivot, row));
    }

    /// `vector` reduced to zero at every pivot (rows taken in their order); `None` on overflow.
    fn reduce(&self, vector: &Vector) -> Option<Vector> {
        let mut current = vector.clone();
        let mut pending: BTreeSet<usize> = current.0.iter().filter_map(|(p, _)| self.pivots.get(p).copied()).collect();
        while let Some(row) = pending.pop_first() {
            let (pivot, basis_row) = &self.rows[row];
            let Some(factor) = current.at(*pivot) else { continue };
            let pivot_value = basis_row.at(*pivot)?;
            current = current.combine(pivot_value, factor, basis_row)?;
            // New non-zeros can only sit at pivots of later rows.
            pending.extend(current.0.iter().filter_map(|(p, _)| self.pivots.get(p).copied().filter(|r| *r > row)));
        }
        Some(current)
    }
}

#[cfg(test)]
mod tests;
