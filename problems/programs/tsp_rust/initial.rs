//! Euclidean travelling salesman: read n points from stdin, print a tour (one index per line).
//!
//! Input: n, then n lines "x y" with coordinates in the unit square. Output: a permutation of
//! 0..n-1, the order in which the tour visits the points (it returns to the first one).
//! This first version builds a nearest-neighbour tour and improves it with short 2-opt moves.
use std::io::{self, Read, Write};

fn dist(p: &[(f64, f64)], a: usize, b: usize) -> f64 {
    (p[a].0 - p[b].0).hypot(p[a].1 - p[b].1)
}

// EVOLVE-BLOCK-START
/// 2-opt only tries moves whose new edge is shorter than this (a neighbour radius).
const RADIUS: f64 = 0.02;

/// Nearest neighbour from point 0: always go to the closest point not yet visited.
fn nearest_neighbour(p: &[(f64, f64)]) -> Vec<usize> {
    let n = p.len();
    let mut used = vec![false; n];
    let mut tour = vec![0];
    used[0] = true;
    for _ in 1..n {
        let last = *tour.last().unwrap();
        let mut best = usize::MAX;
        let mut best_d = f64::INFINITY;
        for j in 0..n {
            if !used[j] && dist(p, last, j) < best_d {
                best_d = dist(p, last, j);
                best = j;
            }
        }
        tour.push(best);
        used[best] = true;
    }
    tour
}

/// 2-opt: reverse tour[i..=j] while that shortens the tour, until no move helps.
fn two_opt(p: &[(f64, f64)], tour: &mut [usize]) {
    let n = tour.len();
    let mut improved = true;
    while improved {
        improved = false;
        for i in 1..n.saturating_sub(1) {
            for j in i + 1..n {
                let (a, b, c, d) = (tour[i - 1], tour[i], tour[j], tour[(j + 1) % n]);
                if dist(p, a, c) > RADIUS {
                    continue;
                }
                let delta = dist(p, a, c) + dist(p, b, d) - dist(p, a, b) - dist(p, c, d);
                if delta < -1e-12 {
                    tour[i..=j].reverse();
                    improved = true;
                }
            }
        }
    }
}

/// A tour of the points: a permutation of 0..p.len().
fn solve(p: &[(f64, f64)]) -> Vec<usize> {
    let mut tour = nearest_neighbour(p);
    two_opt(p, &mut tour);
    tour
}
// EVOLVE-BLOCK-END

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).expect("read stdin");
    let mut numbers = input.split_ascii_whitespace();
    let n: usize = numbers.next().and_then(|t| t.parse().ok()).expect("n");
    let mut points = Vec::with_capacity(n);
    for _ in 0..n {
        let x: f64 = numbers.next().and_then(|t| t.parse().ok()).expect("x");
        let y: f64 = numbers.next().and_then(|t| t.parse().ok()).expect("y");
        points.push((x, y));
    }
    let tour = solve(&points);
    let mut out = io::BufWriter::new(io::stdout().lock());
    for i in tour {
        writeln!(out, "{}", i).expect("write stdout");
    }
}
