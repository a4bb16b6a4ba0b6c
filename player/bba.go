package player

// BBA is BBA-0 (Huang, Johari, McKeown, Trunnell, Watson, "A Buffer-Based
// Approach to Rate Adaptation", SIGCOMM 2014): the rate follows a map of
// the buffer level, the lowest rate up to the reservoir, rising linearly
// over the cushion to the highest; the rate changes only when the map
// crosses the next rate up or down (Algorithm 1). The paper's 90 s
// reservoir and 126 s cushion are for a 240 s buffer; here they scale with
// the buffer: reservoir 3/8 of it (at least two segments), cushion 1/2.
type BBA struct {
	reservoir, cushion float64
	prev               int
}

func newBBA(c *Context) *BBA {
	return &BBA{reservoir: max(c.MaxBufferMs*3/8, 2*c.SegmentMs), cushion: c.MaxBufferMs / 2}
}

// rateMap is f(B), in kbit/s.
func (b *BBA) rateMap(c *Context, buffer float64) float64 {
	lo, hi := c.BitratesKbps[0], c.BitratesKbps[len(c.BitratesKbps)-1]
	switch {
	case buffer <= b.reservoir:
		return lo
	case buffer >= b.reservoir+b.cushion:
		return hi
	}
	return lo + (hi-lo)*(buffer-b.reservoir)/b.cushion
}

// Choose implements ABR: the quality of the next segment, and how long to wait before fetching it.
func (b *BBA) Choose(c *Context) (int, float64) {
	r := c.BitratesKbps
	top := len(r) - 1
	up, down := min(b.prev+1, top), max(b.prev-1, 0) // Rate+ and Rate−
	f := b.rateMap(c, c.BufferMs)
	next := b.prev
	switch {
	case c.BufferMs <= b.reservoir:
		next = 0
	case c.BufferMs >= b.reservoir+b.cushion:
		next = top
	case f >= r[up]:
		// the highest rate below f(B)
		for next = top; next > 0 && r[next] >= f; next-- {
		}
	case f <= r[down]:
		// the lowest rate above f(B)
		for next = 0; next < top && r[next] <= f; next++ {
		}
	}
	b.prev = next
	return next, 0
}

// Delayed implements ABR.
func (b *BBA) Delayed(float64) {}

// Downloaded implements ABR.
func (b *BBA) Downloaded(_ *Context, r Result) { b.prev = r.Quality }

// Abandon implements ABR: the lower quality to switch a download in progress to, or the one it has to go on.
func (b *BBA) Abandon(*Context, Progress, float64) int { return -1 }
