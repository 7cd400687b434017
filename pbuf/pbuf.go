// Package pbuf provides pooled packet buffers with headroom, so protocol
// layers prepend their headers in place instead of copying payloads.
//
// A Pool holds a few size classes, each with a bounded number of buffers.
// Buffers are allocated lazily up to that bound and recycled afterwards, so
// in steady state Get and Free allocate nothing. When a class is exhausted
// Get tries the next larger class and then returns nil; the failure is
// counted and the caller drops the packet.
//
// Ownership is explicit: whoever holds a *Buf either frees it or hands it to
// a function documented to take ownership. A Pool is not safe for concurrent
// use; the stack uses it under its single lock.
package pbuf

import (
	"errors"
	"fmt"
	"sort"
)

// Class configures one size class.
type Class struct {
	// Size is the largest packet (without headroom) a buffer holds.
	Size int
	// Count is how many buffers of this class may exist at once.
	Count int
}

// Config configures a Pool. The zero value selects the defaults.
type Config struct {
	// Headroom is reserved in front of every buffer for headers that lower
	// layers prepend. Default 128 bytes (Ethernet + IPv6 + TCP with options).
	Headroom int
	// Classes lists the size classes. Default: 512 buffers of 2 KiB (one
	// Ethernet frame) and 8 buffers of 64 KiB (reassembled datagrams).
	Classes []Class
}

// DefaultHeadroom is the headroom used when Config.Headroom is zero.
const DefaultHeadroom = 128

// DefaultClasses returns the size classes used when Config.Classes is
// empty: 512 buffers of 2 KiB and 8 of 64 KiB. It is a function, not a
// variable, so that no program can change another's defaults (no global
// state).
func DefaultClasses() []Class {
	return []Class{{Size: 2048, Count: 512}, {Size: 65536, Count: 8}}
}

// Stats counts a pool's activity.
type Stats struct {
	// Gets counts successful Get calls, Frees calls to Free.
	Gets, Frees uint64
	// Fails counts Get calls that found every fitting class exhausted.
	Fails uint64
	// TooLarge counts Get calls for more than the largest class holds.
	TooLarge uint64
	// InUse is the number of buffers currently handed out.
	InUse int
	// Allocated is the number of buffers created so far.
	Allocated int
	// Bytes is the memory held by allocated buffers.
	Bytes int
}

type class struct {
	size, count int
	allocated   int
	free        []*Buf
}

// Pool is a bounded set of packet buffers.
type Pool struct {
	headroom int
	classes  []class
	stats    Stats
}

// ErrConfig is wrapped by the errors New returns for a bad Config.
var ErrConfig = errors.New("pbuf: bad config")

// New creates a pool. It checks the configuration and returns an error
// naming the wrong field.
func New(cfg Config) (*Pool, error) {
	if cfg.Headroom == 0 {
		cfg.Headroom = DefaultHeadroom
	}
	if cfg.Headroom < 0 {
		return nil, fmt.Errorf("%w: Headroom %d is negative", ErrConfig, cfg.Headroom)
	}
	cls := cfg.Classes
	if len(cls) == 0 {
		cls = DefaultClasses()
	}
	p := &Pool{headroom: cfg.Headroom}
	for i, c := range cls {
		if c.Size <= 0 || c.Count <= 0 {
			return nil, fmt.Errorf("%w: Classes[%d] needs a positive Size and Count, got %+v", ErrConfig, i, c)
		}
		p.classes = append(p.classes, class{size: c.Size, count: c.Count, free: make([]*Buf, 0, c.Count)})
	}
	sort.Slice(p.classes, func(i, j int) bool { return p.classes[i].size < p.classes[j].size })
	return p, nil
}

// Headroom reports the headroom reserved in front of each new buffer.
func (p *Pool) Headroom() int { return p.headroom }

// MaxSize reports the largest packet a buffer of this pool can hold.
func (p *Pool) MaxSize() int { return p.classes[len(p.classes)-1].size }

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() Stats { return p.stats }

// Get returns a buffer whose Bytes are n bytes long (contents undefined),
// with the pool's headroom in front. It returns nil when n exceeds the
// largest class or every class that fits is exhausted.
func (p *Pool) Get(n int) *Buf {
	if n < 0 || n > p.MaxSize() {
		p.stats.TooLarge++
		return nil
	}
	for i := range p.classes {
		c := &p.classes[i]
		if c.size < n {
			continue
		}
		var b *Buf
		if k := len(c.free); k > 0 {
			b = c.free[k-1]
			c.free = c.free[:k-1]
		} else if c.allocated < c.count {
			c.allocated++
			p.stats.Allocated++
			p.stats.Bytes += p.headroom + c.size
			b = &Buf{data: make([]byte, p.headroom+c.size), pool: p, class: i}
		} else {
			continue
		}
		b.inPool = false
		b.next = nil
		b.off = p.headroom
		b.end = p.headroom + n
		p.stats.Gets++
		p.stats.InUse++
		return b
	}
	p.stats.Fails++
	return nil
}

// Buf is one packet buffer: a window [off, end) into a fixed backing array,
// with headroom before it and tailroom after it.
type Buf struct {
	data     []byte
	off, end int
	pool     *Pool
	class    int
	inPool   bool
	next     *Buf
}

// Bytes returns the packet's current contents. The slice stays valid until
// the buffer is modified with Prepend, TrimFront, Append or Free.
func (b *Buf) Bytes() []byte { return b.data[b.off:b.end] }

// Len reports the packet's length.
func (b *Buf) Len() int { return b.end - b.off }

// Headroom reports how many bytes Prepend can still add.
func (b *Buf) Headroom() int { return b.off }

// Tailroom reports how many bytes Append can still add.
func (b *Buf) Tailroom() int { return len(b.data) - b.end }

// Prepend grows the packet by n bytes at the front and returns them, or
// returns nil when the headroom is smaller than n.
func (b *Buf) Prepend(n int) []byte {
	if n < 0 || n > b.off {
		return nil
	}
	b.off -= n
	return b.data[b.off : b.off+n]
}

// TrimFront removes n bytes from the front (clamped to the length).
func (b *Buf) TrimFront(n int) {
	if n > b.Len() {
		n = b.Len()
	}
	if n > 0 {
		b.off += n
	}
}

// Append grows the packet by n bytes at the end and returns them, or
// returns nil when the tailroom is smaller than n.
func (b *Buf) Append(n int) []byte {
	if n < 0 || n > b.Tailroom() {
		return nil
	}
	b.end += n
	return b.data[b.end-n : b.end]
}

// Truncate shortens the packet to n bytes; a larger n is ignored.
func (b *Buf) Truncate(n int) {
	if n >= 0 && n < b.Len() {
		b.end = b.off + n
	}
}

// Next returns the buffer after b in a chain, or nil.
func (b *Buf) Next() *Buf { return b.next }

// SetNext links next after b. The chain's owner owns every buffer in it.
func (b *Buf) SetNext(next *Buf) { b.next = next }

// Free returns b to its pool. b must not be used afterwards. Freeing a
// buffer twice is a programming error and panics. Free does not follow the
// chain; use FreeChain for that.
func (b *Buf) Free() {
	if b == nil {
		return
	}
	if b.inPool {
		panic("pbuf: buffer freed twice")
	}
	p := b.pool
	b.inPool = true
	b.next = nil
	c := &p.classes[b.class]
	c.free = append(c.free, b)
	p.stats.Frees++
	p.stats.InUse--
}

// FreeChain frees b and every buffer linked after it.
func FreeChain(b *Buf) {
	for b != nil {
		n := b.next
		b.Free()
		b = n
	}
}

// ChainLen reports the total length of the packets in the chain from b.
func ChainLen(b *Buf) int {
	n := 0
	for ; b != nil; b = b.next {
		n += b.Len()
	}
	return n
}

// CopyChain copies the chain's contents into dst and returns the number of
// bytes copied (at most len(dst)).
func CopyChain(dst []byte, b *Buf) int {
	n := 0
	for ; b != nil && n < len(dst); b = b.next {
		n += copy(dst[n:], b.Bytes())
	}
	return n
}
