package oracle

import "time"

// boundedCache keeps at most max entries, each for ttl. When it is full, a
// new key first sweeps out the expired entries and, if too few expired,
// drops arbitrary ones down to three quarters of max: a cache filled by
// made-up keys stays within its bound and costs O(1) per insert amortised.
// It is not safe for concurrent use; its owner holds a lock.
type boundedCache[V any] struct {
	ttl time.Duration
	max int
	m   map[string]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v  V
	at time.Time
}

// get returns the value of k if it was put less than ttl before now.
func (c *boundedCache[V]) get(k string, now time.Time) (V, bool) {
	e, ok := c.m[k]
	if !ok || now.Sub(e.at) >= c.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v under k as of now.
func (c *boundedCache[V]) put(k string, v V, now time.Time) {
	if c.max <= 0 || c.ttl <= 0 {
		return
	}
	if c.m == nil {
		c.m = map[string]cacheEntry[V]{}
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		c.evict(now)
	}
	c.m[k] = cacheEntry[V]{v: v, at: now}
}

// remove forgets k.
func (c *boundedCache[V]) remove(k string) { delete(c.m, k) }

// evict drops the expired entries, then arbitrary ones until a quarter of
// the room is free.
func (c *boundedCache[V]) evict(now time.Time) {
	for k, e := range c.m {
		if now.Sub(e.at) >= c.ttl {
			delete(c.m, k)
		}
	}
	keep := c.max - max(c.max/4, 1)
	for k := range c.m {
		if len(c.m) <= keep {
			break
		}
		delete(c.m, k)
	}
}

// len returns how many entries are held, expired ones included.
func (c *boundedCache[V]) len() int { return len(c.m) }
