//! A Fenwick (binary indexed) tree of weights, for weighted random sampling
//! in `O(log n)` reads: the registry's providers by free capacity, and (in
//! the market) each provider's pieces by bytes for the audit's draws.
//!
//! Cell `i` (1-based) holds the sum of the weights of slots
//! `i - lowbit(i) .. i`; the tree has a power-of-two size, so its last cell
//! is the total. Sums are kept modulo 2^128 (`wrapping_add`), which makes a
//! decrease an addition of the two's complement: every true sum is below
//! 2^128, so the stored cells are exact.
//!
//! Cells live wherever [`Cells`] puts them: pallet storage, or an overlay
//! that lets one placement take chosen providers out of the draw without
//! writing anything.

use std::collections::BTreeMap;

/// Where the tree's cells are kept; an absent cell is zero.
pub trait Cells {
    /// Cell `i`, 1-based.
    fn cell(&self, i: u32) -> u128;
    /// Sets cell `i`.
    fn set_cell(&mut self, i: u32, value: u128);
}

fn lowbit(i: u32) -> u32 {
    i & i.wrapping_neg()
}

/// Adds `delta` (modulo 2^128) to the weight of 0-based `slot` of a tree of
/// `size` slots.
pub fn add(cells: &mut impl Cells, size: u32, slot: u32, delta: u128) {
    let mut i = slot + 1;
    while i <= size {
        let value = cells.cell(i).wrapping_add(delta);
        cells.set_cell(i, value);
        i += lowbit(i);
    }
}

/// The weight of every slot together (`size` a power of two).
pub fn total(cells: &impl Cells, size: u32) -> u128 {
    cells.cell(size)
}

/// The 0-based slot whose weight covers `target`: the first slot `s` with
/// `target < weight(0..=s)`. `target` must be below the total, and `size` a
/// power of two.
pub fn find(cells: &impl Cells, size: u32, mut target: u128) -> u32 {
    let mut position = 0;
    let mut step = size;
    while step > 0 {
        let next = position + step;
        if next <= size {
            let cell = cells.cell(next);
            if cell <= target {
                position = next;
                target -= cell;
            }
        }
        step /= 2;
    }
    position
}

/// The size a tree of `size` slots (a power of two, or zero for none yet)
/// must grow to so that slot `slot` exists, and grows it. Each doubling's
/// new top cell covers every slot, so it takes the old total; the other new
/// cells cover only slots past the old end, which are zero.
pub fn grow(cells: &mut impl Cells, size: u32, slot: u32) -> u32 {
    if slot < size {
        return size;
    }
    if size == 0 {
        return (slot + 1).next_power_of_two();
    }
    let total = cells.cell(size);
    let mut grown = size;
    while grown <= slot {
        grown *= 2;
        cells.set_cell(grown, total);
    }
    grown
}

/// Changed cells in memory over a base that is only read.
pub struct Overlay<'a, C> {
    base: &'a C,
    changed: BTreeMap<u32, u128>,
}

impl<'a, C: Cells> Overlay<'a, C> {
    pub fn new(base: &'a C) -> Self {
        Overlay {
            base,
            changed: BTreeMap::new(),
        }
    }
}

impl<C: Cells> Cells for Overlay<'_, C> {
    fn cell(&self, i: u32) -> u128 {
        self.changed
            .get(&i)
            .copied()
            .unwrap_or_else(|| self.base.cell(i))
    }

    fn set_cell(&mut self, i: u32, value: u128) {
        self.changed.insert(i, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Plain(Vec<u128>);

    impl Cells for Plain {
        fn cell(&self, i: u32) -> u128 {
            self.0[i as usize]
        }
        fn set_cell(&mut self, i: u32, value: u128) {
            self.0[i as usize] = value;
        }
    }

    #[test]
    fn find_inverts_prefix_sums_through_increases_and_decreases() {
        const SIZE: u32 = 16;
        let weights = [3u128, 0, 5, 1, 0, 0, 7, 2, 9, 0, 0, 4, 1, 1, 0, 6];
        let mut tree = Plain(vec![0; SIZE as usize + 1]);
        for (slot, w) in weights.iter().enumerate() {
            add(&mut tree, SIZE, slot as u32, w + 10);
            add(&mut tree, SIZE, slot as u32, 10u128.wrapping_neg());
        }
        assert_eq!(total(&tree, SIZE), weights.iter().sum::<u128>());
        let mut target = 0;
        for (slot, w) in weights.iter().enumerate() {
            for _ in 0..*w {
                assert_eq!(find(&tree, SIZE, target), slot as u32, "target {target}");
                target += 1;
            }
        }
    }

    #[test]
    fn a_grown_tree_keeps_its_weights_and_finds_the_new_slots() {
        let mut tree = Plain(vec![0; 33]);
        let mut size = 0;
        for (slot, w) in [4u128, 1, 0, 3, 2, 5, 7].iter().enumerate() {
            size = grow(&mut tree, size, slot as u32);
            add(&mut tree, size, slot as u32, *w);
        }
        assert_eq!(size, 8);
        assert_eq!(total(&tree, size), 22);
        assert_eq!(find(&tree, size, 4), 1);
        assert_eq!(find(&tree, size, 21), 6);
        size = grow(&mut tree, size, 20);
        assert_eq!(size, 32);
        add(&mut tree, size, 20, 10);
        assert_eq!(total(&tree, size), 32);
        assert_eq!(find(&tree, size, 22), 20);
        assert_eq!(find(&tree, size, 14), 5);
        assert_eq!(find(&tree, size, 15), 6);
    }

    #[test]
    fn an_overlay_changes_nothing_underneath() {
        let mut tree = Plain(vec![0; 9]);
        add(&mut tree, 8, 2, 5);
        add(&mut tree, 8, 6, 5);
        let mut overlay = Overlay::new(&tree);
        add(&mut overlay, 8, 2, 5u128.wrapping_neg());
        assert_eq!(total(&overlay, 8), 5);
        assert_eq!(find(&overlay, 8, 0), 6);
        assert_eq!(total(&tree, 8), 10);
        assert_eq!(find(&tree, 8, 0), 2);
    }
}
