package sqlexec

// SetPointReads turns the point-read fast path on (the default) or off, so
// that tests and benchmarks can compare it with the DuckDB path.
func SetPointReads(x *Executor, on bool) { x.point.off = !on }

// PointReads returns how many queries the point-read fast path answered.
func PointReads(x *Executor) int64 { return x.point.served.Load() }

// ViewFormHits returns how many view expansions the bound-view cache
// served and how many it missed.
func ViewFormHits(x *Executor) (hits, misses int64) {
	return x.viewForms.hits.Load(), x.viewForms.misses.Load()
}
