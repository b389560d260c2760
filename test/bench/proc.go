package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux Go runs on).
const clockTicks = 100

// cpuTime returns the CPU time process pid has used so far, user and
// system.
func cpuTime(pid int) (time.Duration, error) {
	// utime and stime are the 14th and 15th fields.
	f, err := statFields(pid, 13)
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// findProcess returns the process whose executable is exe and, if parent
// is not 0, whose parent is parent.
func findProcess(exe string, parent int) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if got, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err != nil || got != exe && filepath.Base(got) != exe {
			continue
		}
		if parent != 0 {
			if ppid, err := parentOf(pid); err != nil || ppid != parent {
				continue
			}
		}
		return pid, nil
	}
	return 0, fmt.Errorf("no process runs %s", exe)
}

func parentOf(pid int) (int, error) {
	// ppid is the 4th field.
	f, err := statFields(pid, 2)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1])
}

// statFields returns the fields of /proc/<pid>/stat after the command
// name (the 3rd field on), at least n of them. The name, in parentheses,
// may hold spaces: the fields are counted from its end.
func statFields(pid, n int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < n {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields after the command name, want %d", pid, len(f), n)
	}
	return f, nil
}

// memory is a process's resident memory, in KiB, as /proc/<pid>/status
// gives it: anonymous (heap, stacks) and file-backed (the binary's pages
// that were touched).
type memory struct {
	rss, hwm, anon, file int64
}

func readMemory(pid int) (memory, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			m.rss = kib
		case "VmHWM":
			m.hwm = kib
		case "RssAnon":
			m.anon = kib
		case "RssFile":
			m.file = kib
		}
	}
	return m, sc.Err()
}

// rssSampler follows a webhook process's resident memory while it runs,
// over all the rounds of its mode.
type rssSampler struct {
	mu       sync.Mutex
	pid      int
	stop     chan struct{}
	maxRSS   int64 // KiB, sampled every 100 ms
	maxHWM   int64 // KiB, the kernel's peak
	last     memory
	attached bool
}

// attach samples process pid until detach.
func (s *rssSampler) attach(pid int) {
	s.mu.Lock()
	s.pid, s.stop, s.attached = pid, make(chan struct{}), true
	stop := s.stop
	s.mu.Unlock()
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
}

func (s *rssSampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.attached {
		return
	}
	m, err := readMemory(s.pid)
	if err != nil {
		return
	}
	s.last = m
	s.maxRSS = max(s.maxRSS, m.rss)
	s.maxHWM = max(s.maxHWM, m.hwm)
}

func (s *rssSampler) detach() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attached {
		close(s.stop)
		s.attached = false
	}
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
