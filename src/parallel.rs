//! Splitting one large piece of query work (decoding thousands of series, a range function
//! over each of them) across the machine's cores, keeping the input order.
//!
//! Scoped threads rather than a pool: a split is only made when each part is large enough
//! that starting a thread (tens of microseconds) is noise, and there is nothing to keep
//! running between queries.

use std::sync::OnceLock;

/// How many threads a split uses at most: the cores the process may run on.
pub fn workers() -> usize {
    static WORKERS: OnceLock<usize> = OnceLock::new();
    *WORKERS.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|count| count.get())
            .unwrap_or(1)
    })
}

/// Maps `items` part by part, each part on its own thread when there are at least
/// `min_per_part` items for every part; the outputs are concatenated in input order.
/// A panic in any part is resumed on the caller's thread.
pub fn map_parts<T, R, F>(mut items: Vec<T>, min_per_part: usize, map: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(Vec<T>) -> Vec<R> + Sync,
{
    let parts = workers().min(items.len() / min_per_part.max(1)).max(1);
    if parts == 1 {
        return map(items);
    }
    let per_part = items.len().div_ceil(parts);
    // Split from the back so that each part keeps its items' order.
    let mut tails = Vec::with_capacity(parts - 1);
    while items.len() > per_part {
        let at = items.len().saturating_sub(per_part).max(per_part);
        tails.push(items.split_off(at));
    }
    tails.reverse();
    let map = &map;
    std::thread::scope(|scope| {
        let handles: Vec<_> = tails
            .into_iter()
            .map(|part| scope.spawn(move || map(part)))
            .collect();
        let mut output = map(items);
        for handle in handles {
            match handle.join() {
                Ok(part) => output.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        output
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_keep_the_input_order() {
        for count in [0usize, 1, 2, 3, 7, 100, 1001] {
            let items: Vec<usize> = (0..count).collect();
            let doubled = map_parts(items, 1, |part| part.into_iter().map(|x| x * 2).collect());
            assert_eq!(doubled, (0..count).map(|x| x * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn parts_may_drop_and_add_items() {
        let items: Vec<u32> = (0..50).collect();
        let kept = map_parts(items, 5, |part| {
            part.into_iter()
                .filter(|x| x % 3 == 0)
                .flat_map(|x| [x, x])
                .collect()
        });
        let expected: Vec<u32> = (0..50)
            .filter(|x| x % 3 == 0)
            .flat_map(|x| [x, x])
            .collect();
        assert_eq!(kept, expected);
    }

    #[test]
    fn small_inputs_stay_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let threads = map_parts(vec![1, 2, 3], 10, |part| {
            part.into_iter()
                .map(|_| std::thread::current().id())
                .collect()
        });
        assert!(threads.iter().all(|id| *id == caller));
    }
}
