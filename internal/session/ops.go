package session

// Ops appends to dst the operations queued or in flight, in no promised
// order, and returns it: what a drain waits for.
func (s *Session) Ops(dst []*Op) []*Op {
	dst = append(dst, s.inflight...)
	return append(dst, s.queue...)
}

// Abandon fails op, which was never enqueued (Enqueue refused it), with
// err, so whoever else waits on it learns why.
func (o *Op) Abandon(err error) { o.finish(Failed, err) }
