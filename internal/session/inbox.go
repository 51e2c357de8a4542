package session

import "fmt"

// held is a server frame taken in that the server may still count as
// unacknowledged: its number and payload bytes.
type held struct {
	seq  uint64
	size int
}

// Hold records the payload bytes of fresh server frame seq against the
// inbox budget (Limits.InboxBytes) announced in connect. It returns a
// *ProtocolError when the server sent it although the frames it had sent
// and not seen acknowledged already held bytes and this one went past the
// budget: the server may always send one frame when nothing is held, so a
// message larger than the budget passes alone. Frames are released by
// AckSent and, on a new connection, by Hello.
func (s *Session) Hold(seq uint64, size int) error {
	b := s.limits.InboxBytes
	if b <= 0 {
		return nil
	}
	if s.heldBytes > 0 && s.heldBytes+size > b {
		return &ProtocolError{Reason: fmt.Sprintf("server exceeded the inbox budget: %d payload bytes unacknowledged, %d more, budget %d", s.heldBytes, size, b)}
	}
	s.held = append(s.held, held{seq: seq, size: size})
	s.heldBytes += size
	return nil
}

// HeldBytes returns the payload bytes counted against the inbox budget.
func (s *Session) HeldBytes() int { return s.heldBytes }

// release forgets the held frames up to a: the server has, or will have
// on this connection, their acknowledgement. The client releases when it
// sends an ack, before the server reads it, so it never counts more than
// the server does.
func (s *Session) release(a uint64) {
	i := 0
	for i < len(s.held) && s.held[i].seq <= a {
		s.heldBytes -= s.held[i].size
		i++
	}
	s.held = s.held[i:]
	if len(s.held) == 0 {
		s.held = nil
	}
}
