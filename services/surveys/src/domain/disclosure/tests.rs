//! The disclosure control's properties over random hierarchical tables, and hand-made tables
//! that a plain "suppress below 15" would leak.

use proptest::prelude::*;

use super::*;

/// Rank of integer row vectors, by fraction-free elimination on a dense copy: exact, and
/// written apart from the module's sparse elimination so that each checks the other.
fn rank(rows: &[Vec<i128>]) -> usize {
    let mut m: Vec<Vec<i128>> = rows.to_vec();
    let columns = m.first().map_or(0, Vec::len);
    let mut rank = 0;
    for column in 0..columns {
        let Some(pivot) = (rank..m.len()).find(|r| m[*r][column] != 0) else { continue };
        m.swap(rank, pivot);
        for r in 0..m.len() {
            if r != rank && m[r][column] != 0 {
                let (a, b) = (m[rank][column], m[r][column]);
                let pivot_row = m[rank].clone();
                let row = &mut m[r];
                for (x, p) in row.iter_mut().zip(&pivot_row) {
                    *x = a * *x - b * p;
                }
                let g = row.iter().fold(0, |g, x| gcd(g, *x));
                if g > 1 {
                    row.iter_mut().for_each(|x| *x /= g);
                }
            }
        }
        rank += 1;
    }
    rank
}

fn dense(vector: &Vector, width: usize) -> Vec<i128> {
    let mut row = vec![0; width];
    for (p, v) in &vector.0 {
        row[*p] = *v;
    }
    row
}

fn inner_width(table: &Table) -> usize {
    table.dimensions.iter().map(|d| d.leaves().len()).product()
}

fn vectors(table: &Table) -> Vec<Vector> {
    let leaves: Vec<Vec<usize>> = table.dimensions.iter().map(Hierarchy::leaves).collect();
    (0..table.len()).map(|i| table.inner_cells(i, &leaves)).collect()
}

/// Whether `target` is a linear combination of the published cells (the rank test).
fn derivable(table: &Table, published: &[bool], target: &Vector) -> bool {
    let width = inner_width(table);
    let all = vectors(table);
    let mut rows: Vec<Vec<i128>> = (0..table.len()).filter(|i| published[*i]).map(|i| dense(&all[i], width)).collect();
    let before = rank(&rows);
    rows.push(dense(target, width));
    rank(&rows) == before
}

/// The plain rule: only the small cells are hidden.
fn plain(table: &Table, threshold: Threshold) -> Vec<bool> {
    (0..table.len()).map(|i| !threshold.is_primary(table.counts[i])).collect()
}

fn published(pattern: &Pattern) -> Vec<bool> {
    pattern.statuses.iter().map(|s| *s == Status::Published).collect()
}

/// A root, its children and their children, by the number of grandchildren of each child
/// (platform → organisations → offices; year → quarters → months). Returns the hierarchy and
/// its leaves.
fn two_levels(root: &str, sizes: &[usize]) -> (Hierarchy, Vec<usize>) {
    let mut h = Hierarchy::new();
    let top = h.add(root, None).unwrap();
    let mut leaves = Vec::new();
    for (c, count) in sizes.iter().enumerate() {
        let child = h.add(format!("{root}-{c}"), Some(top)).unwrap();
        for g in 0..*count {
            leaves.push(h.add(format!("{root}-{c}-{g}"), Some(child)).unwrap());
        }
    }
    (h, leaves)
}

fn geography(offices: &[usize]) -> (Hierarchy, Vec<usize>) {
    two_levels("platform", offices)
}

fn periods(months: &[usize]) -> (Hierarchy, Vec<usize>) {
    two_levels("2026", months)
}

/// A table whose every cell is the sum of its inner cells' counts (`inner[office][month]`).
fn additive(offices: &[usize], months: &[usize], inner: &[Vec<u64>]) -> Table {
    let (g, office_leaves) = geography(offices);
    let (p, month_leaves) = periods(months);
    let mut table = Table::new(vec![g.clone(), p.clone()]).unwrap();
    for gi in 0..g.len() {
        for pi in 0..p.len() {
            let mut n = 0;
            for (o, office) in office_leaves.iter().enumerate() {
                for (m, month) in month_leaves.iter().enumerate() {
                    if g.is_under(*office, gi) && p.is_under(*month, pi) {
                        n += inner[o][m];
                    }
                }
            }
            table.set(&[gi, pi], n).unwrap();
        }
    }
    table
}

/// Every margin's suppressed children (two or more) with their summed vector and count.
fn margin_sums(table: &Table, pattern: &Pattern) -> Vec<(Vector, u64)> {
    let all = vectors(table);
    let mut sums = Vec::new();
    for index in 0..table.len() {
        let coordinates = table.coordinates(index);
        for (d, dimension) in table.dimensions.iter().enumerate() {
            let hidden: Vec<usize> = dimension
                .children(coordinates[d])
                .iter()
                .filter_map(|c| {
                    let mut at = coordinates.clone();
                    at[d] = *c;
                    table.index(&at)
                })
                .filter(|i| !pattern.is_published(*i))
                .collect();
            if hidden.len() >= 2 {
                let vector = hidden.iter().fold(Vector::default(), |acc, i| acc.add(&all[*i]));
                sums.push((vector, hidden.iter().map(|i| table.counts[*i]).sum()));
            }
        }
    }
    sums
}

fn random_table() -> impl Strategy<Value = Table> {
    (prop::collection::vec(1usize..=3, 1..=3), prop::collection::vec(1usize..=3, 1..=2)).prop_flat_map(
        |(offices, months)| {
            let rows: usize = offices.iter().sum();
            let columns: usize = months.iter().sum();
            // Mostly small numbers, so that there is much to suppress; some zeros.
            let count = prop_oneof![3 => 0u64..=6, 2 => 7u64..=20, 1 => Just(0u64)];
            prop::collection::vec(prop::collection::vec(count, columns), rows)
                .prop_map(move |inner| additive(&offices, &months, &inner))
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn no_published_cell_has_between_1_and_14_customers(table in random_table()) {
        let pattern = suppress(&table, Threshold::default());
        for i in 0..table.len() {
            let n = table.count(i).unwrap();
            prop_assert!(!(pattern.is_published(i) && n > 0 && n < 15), "cell {i} with {n} published");
        }
    }

    #[test]
    fn no_suppressed_cell_can_be_derived_from_the_published_ones(table in random_table()) {
        let pattern = suppress(&table, Threshold::default());
        let shown = published(&pattern);
        let all = vectors(&table);
        for i in (0..table.len()).filter(|i| !shown[*i]) {
            prop_assert!(!derivable(&table, &shown, &all[i]), "suppressed cell {i} is derivable");
        }
    }

    #[test]
    fn no_sum_of_suppressed_cells_along_a_margin_reveals_1_to_14(table in random_table()) {
        let pattern = suppress(&table, Threshold::default());
        let shown = published(&pattern);
        for (sum, n) in margin_sums(&table, &pattern) {
            if (1..15).contains(&n) {
                prop_assert!(!derivable(&table, &shown, &sum), "a margin's suppressed cells add up to {n}, derivably");
            }
        }
    }

    #[test]
    fn counts_means_and_shares_share_one_pattern(table in random_table()) {
        let pattern = suppress(&table, Threshold::default());
        let counts: Vec<u64> = (0..table.len()).map(|i| table.count(i).unwrap()).collect();
        // Means in tenths and band shares as fractions: other types, the same cells hidden.
        let means: Vec<(u64, u64)> = counts.iter().map(|n| (n * 7 % 101, 10)).collect();
        let shares: Vec<[u64; 3]> = counts.iter().map(|n| [n / 3, n / 3, n - 2 * (n / 3)]).collect();
        let counts_hidden: Vec<bool> = pattern.apply(&counts).iter().map(|s| *s == Shown::Suppressed).collect();
        prop_assert_eq!(
            &counts_hidden,
            &pattern.apply(&means).iter().map(|s| *s == Shown::Suppressed).collect::<Vec<_>>()
        );
        prop_assert_eq!(
            &counts_hidden,
            &pattern.apply(&shares).iter().map(|s| *s == Shown::Suppressed).collect::<Vec<_>>()
        );
        let statuses_hidden: Vec<bool> = pattern.statuses().iter().map(|s| *s != Status::Published).collect();
        prop_assert_eq!(&counts_hidden, &statuses_hidden);
    }

    #[test]
    fn a_table_without_small_cells_is_published_whole(table in random_table()) {
        let big = {
            let mut big = table.clone();
            for i in 0..big.len() {
                let coordinates = big.coordinates(i);
                let n = big.count(i).unwrap();
                big.set(&coordinates, if n == 0 { 0 } else { n + 15 }).unwrap();
            }
            big
        };
        let pattern = suppress(&big, Threshold::default());
        prop_assert!(pattern.statuses().iter().all(|s| *s == Status::Published));
    }

    #[test]
    fn the_same_table_gives_the_same_pattern(table in random_table()) {
        let first = suppress(&table, Threshold::default());
        prop_assert_eq!(&first, &suppress(&table.clone(), Threshold::default()));
    }
}

/// One organisation with offices A = 20 and B = 5: the plain rule publishes the total 25 and
/// A, so B = 25 − 20; the pattern hides one of them too.
#[test]
fn a_row_total_minus_its_published_cells_is_refused() {
    let table = additive(&[2], &[1], &[vec![20], vec![5]]);
    let all = vectors(&table);
    let b = table.index(&[3, 2]).unwrap();
    assert!(derivable(&table, &plain(&table, Threshold::default()), &all[b]), "the plain rule leaks B");
    let pattern = suppress(&table, Threshold::default());
    assert_eq!(pattern.status(b), Some(Status::Primary));
    assert!(!derivable(&table, &published(&pattern), &all[b]));
    let a = table.index(&[2, 2]).unwrap();
    assert_eq!(pattern.status(a), Some(Status::Secondary), "the smaller of total and A goes");
}

/// Offices × months with their margins, one small inner cell: the plain rule leaks it through
/// its office's total and through its month's total; the pattern hides a rectangle.
#[test]
fn a_small_cell_inside_a_two_way_table_is_refused() {
    let table = additive(&[3], &[3], &[vec![30, 25, 40], vec![20, 3, 35], vec![50, 45, 60]]);
    let all = vectors(&table);
    // Office 1 of organisation 0 is node 3; month 1 of quarter 0 is node 3.
    let small = table.index(&[3, 3]).unwrap();
    assert_eq!(table.count(small), Some(3));
    assert!(derivable(&table, &plain(&table, Threshold::default()), &all[small]));
    let pattern = suppress(&table, Threshold::default());
    let shown = published(&pattern);
    for i in (0..table.len()).filter(|i| !shown[*i]) {
        assert!(!derivable(&table, &shown, &all[i]), "cell {i} derivable");
    }
    let hidden = pattern.statuses().iter().filter(|s| **s != Status::Published).count();
    assert_eq!(hidden, 4, "the small cell and three others close the rectangle: {:?}", pattern.statuses());
}

/// Total 40 with offices 30, 5 and 5: both small offices are hidden, yet 40 − 30 = 10 tells
/// that those two together have 10 customers. The pattern hides the 30 (or the total) too.
#[test]
fn a_small_sum_of_hidden_cells_is_refused() {
    let table = additive(&[3], &[1], &[vec![30], vec![5], vec![5]]);
    let threshold = Threshold::default();
    let plain_shown = plain(&table, threshold);
    let all = vectors(&table);
    let pair = all[table.index(&[3, 2]).unwrap()].add(&all[table.index(&[4, 2]).unwrap()]);
    assert!(derivable(&table, &plain_shown, &pair), "the plain rule reveals the pair's 10");
    let pattern = suppress(&table, threshold);
    assert!(!derivable(&table, &published(&pattern), &pair));
    assert_eq!(pattern.status(table.index(&[2, 2]).unwrap()), Some(Status::Secondary));
}

/// 14 customers in an office: nothing of it is shown; with the 15th its total is.
#[test]
fn fourteen_customers_in_an_office_show_nothing_and_fifteen_show_its_total() {
    let office_total = |table: &Table| table.index(&[2, 0]).unwrap();
    let fourteen = additive(&[2], &[2], &[vec![8, 6], vec![30, 30]]);
    let pattern = suppress(&fourteen, Threshold::default());
    for period in 0..fourteen.dimensions()[1].len() {
        assert!(!pattern.is_published(fourteen.index(&[2, period]).unwrap()), "period {period} of the office shown");
    }
    let fifteen = additive(&[2], &[2], &[vec![9, 6], vec![30, 30]]);
    let pattern = suppress(&fifteen, Threshold::default());
    assert!(pattern.is_published(office_total(&fifteen)));
    assert_eq!(fifteen.count(office_total(&fifteen)), Some(15));
}

/// The operator's platform view: a small organisation is hidden the same way as a small office.
#[test]
fn the_platform_view_hides_a_small_organisation() {
    let mut g = Hierarchy::new();
    let platform = g.add("platform", None).unwrap();
    let big = g.add("big", Some(platform)).unwrap();
    let small = g.add("small", Some(platform)).unwrap();
    let mut p = Hierarchy::new();
    let year = p.add("2026", None).unwrap();
    let mut table = Table::new(vec![g, p]).unwrap();
    table.set(&[platform, year], 512).unwrap();
    table.set(&[big, year], 500).unwrap();
    table.set(&[small, year], 12).unwrap();
    let pattern = suppress(&table, Threshold::default());
    assert_eq!(pattern.status(table.index(&[small, year]).unwrap()), Some(Status::Primary));
    assert_eq!(pattern.status(table.index(&[big, year]).unwrap()), Some(Status::Secondary));
    assert!(pattern.is_published(table.index(&[platform, year]).unwrap()));
}

#[test]
fn items_without_a_total_are_tables_side_by_side() {
    // Two items, each its own root: a small cell of one is not protected by the other's cells.
    let mut items = Hierarchy::new();
    let health = items.add("health", None).unwrap();
    let life = items.add("life", None).unwrap();
    let (g, _) = geography(&[2]);
    let mut table = Table::new(vec![g, items]).unwrap();
    for (node, n) in [(0, 40), (1, 40), (2, 30), (3, 10)] {
        table.set(&[node, health], n).unwrap();
        table.set(&[node, life], n + 100).unwrap();
    }
    let pattern = suppress(&table, Threshold::default());
    assert_eq!(pattern.status(table.index(&[3, health]).unwrap()), Some(Status::Primary));
    assert!(!pattern.is_published(table.index(&[2, health]).unwrap()));
    for node in 0..4 {
        assert!(pattern.is_published(table.index(&[node, life]).unwrap()), "item 'life' node {node}");
    }
}

#[test]
fn a_threshold_is_never_below_15_in_production() {
    assert_eq!(Threshold::production(14), None);
    assert_eq!(Threshold::production(15).map(Threshold::get), Some(15));
    assert_eq!(Threshold::default().get(), 15);
    assert_eq!(Threshold::development(1), None);
    assert_eq!(Threshold::development(3).map(Threshold::get), Some(3));
}

#[test]
fn a_malformed_table_is_refused() {
    assert_eq!(Table::new(vec![]), Err(TableError::EmptyDimension));
    let mut h = Hierarchy::new();
    assert_eq!(h.add("x", Some(3)), Err(TableError::UnknownParent));
    h.add("x", None).unwrap();
    assert_eq!(h.add("x", None), Err(TableError::RepeatedCode));
    let mut table = Table::new(vec![h]).unwrap();
    assert_eq!(table.set(&[1], 3), Err(TableError::NoSuchCell));
}
