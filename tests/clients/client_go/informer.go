package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// podSet is what the informer's handlers saw.
type podSet struct {
	mu      sync.Mutex
	present map[string]bool
	events  []string
	changed chan struct{}
}

func (s *podSet) record(kind string, p *corev1.Pod, present bool) {
	s.mu.Lock()
	s.present[p.Name] = present
	s.events = append(s.events, kind+" "+p.Name)
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *podSet) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{}
	for n, ok := range s.present {
		if ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// waitFor blocks until cond holds (checked on every handler call) or the deadline.
func (s *podSet) waitFor(ctx context.Context, what string, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !cond() {
		select {
		case <-s.changed:
		case <-ctx.Done():
			return fmt.Errorf("informer: %s: not seen within %s (have %v)", what, timeout, s.names())
		}
	}
	return nil
}

func (s *podSet) has(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.present[name]
}

// runInformer: a pod informer for one node (fieldSelector spec.nodeName), as ipamd's pod watch is; pods come
// and go; a watch ended by the server after a compaction gets 410 and the reflector relists; a raw watch
// with allowWatchBookmarks decodes the server's BOOKMARK.
func runInformer(ctx context.Context, o opts) error {
	log := newRequestLog()
	// client-go's defaults: the pods it creates and deletes go as protobuf (see runProtobuf).
	cfg, err := restConfig(o, log)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	bookmark := make(chan map[string]any, 1)
	go func() { bookmark <- awaitBookmark(ctx, cs, o) }()

	seen := &podSet{present: map[string]bool{}, changed: make(chan struct{}, 1)}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(o.namespace), informers.WithTweakListOptions(
		func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", o.node).String()
		},
	))
	inf := factory.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { seen.record("ADDED", obj.(*corev1.Pod), true) },
		UpdateFunc: func(_, obj any) { seen.record("MODIFIED", obj.(*corev1.Pod), true) },
		DeleteFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				seen.record("DELETED", p, false)
			} else if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				seen.record("DELETED", t.Obj.(*corev1.Pod), false)
			}
		},
	})
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	syncCtx, cancel := context.WithTimeout(ctx, o.timeout)
	synced := cache.WaitForCacheSync(syncCtx.Done(), inf.HasSynced)
	cancel()
	emit(map[string]any{"step": "synced", "synced": synced, "pods": seen.names(), "requests": log.since(0)})
	if !synced {
		return fmt.Errorf("informer: not synced within %s", o.timeout)
	}

	if err := podsComeAndGo(ctx, cs, o, seen); err != nil {
		return err
	}
	relist, err := goneThenRelist(ctx, cs, o, seen, log)
	if err != nil {
		return err
	}
	emit(map[string]any{"result": map[string]any{
		"pods":     seen.names(),
		"events":   seen.events,
		"relist":   relist,
		"bookmark": <-bookmark,
		"requests": log.since(0),
	}})
	return nil
}

func newPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "client-go"}},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
}

// podsComeAndGo creates a pod on this node and one on another, then deletes the first: the informer sees
// exactly this node's.
func podsComeAndGo(ctx context.Context, cs kubernetes.Interface, o opts, seen *podSet) error {
	pods := cs.CoreV1().Pods(o.namespace)
	for _, p := range []*corev1.Pod{newPod("mine-a", o.node), newPod("theirs-b", o.otherNode), newPod("mine-c", o.node)} {
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create %s: %w", p.Name, err)
		}
	}
	if err := seen.waitFor(ctx, "mine-a and mine-c", o.timeout, func() bool {
		return seen.has("mine-a") && seen.has("mine-c")
	}); err != nil {
		return err
	}
	if err := pods.Delete(ctx, "mine-a", metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete mine-a: %w", err)
	}
	if err := seen.waitFor(ctx, "mine-a deleted", o.timeout, func() bool { return !seen.has("mine-a") }); err != nil {
		return err
	}
	emit(map[string]any{"step": "pods", "pods": seen.names()})
	return nil
}

// goneThenRelist asks the test to compact the server's history and end every watch (stdin line "done"),
// then waits for the reflector's next requests. A re-watch from the compacted resourceVersion is answered
// with 410 Gone and must be followed by a relist; if the reflector happened to hold a resourceVersion no older
// than the compaction (a bookmark raced it), its plain re-watch is fine and the round is repeated.
func goneThenRelist(ctx context.Context, cs kubernetes.Interface, o opts, seen *podSet, log *requestLog) (map[string]any, error) {
	in := bufio.NewReader(os.Stdin)
	for round := 1; round <= 5; round++ {
		// A change this informer does not see, so its resourceVersion falls behind the compaction.
		name := fmt.Sprintf("theirs-gone-%d", round)
		if _, err := cs.CoreV1().Pods(o.namespace).Create(ctx, newPod(name, o.otherNode), metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("create %s: %w", name, err)
		}
		mark := log.len()
		emit(map[string]any{"step": "compact-now", "round": round})
		if err := waitLine(ctx, in); err != nil {
			return nil, fmt.Errorf("waiting for the compaction: %w", err)
		}
		first, err := nextPodRequest(ctx, log, mark, o.timeout)
		if err != nil {
			return nil, err
		}
		if isInitialSync(first) {
			return nil, fmt.Errorf("relisted before any re-watch: %s", first)
		}
		// The re-watch; what follows tells whether it was answered 410.
		next, err := nextPodRequest(ctx, log, mark+indexOf(log.since(mark), first)+1, o.timeout)
		if err != nil {
			return nil, err
		}
		if !isInitialSync(next) {
			emit(map[string]any{"step": "no-gone", "round": round, "rewatch": first, "next": next})
			continue
		}
		// The relist must leave the informer consistent: mine-c still there, and a new pod arrives.
		if _, err := cs.CoreV1().Pods(o.namespace).Create(ctx, newPod(fmt.Sprintf("mine-after-%d", round), o.node), metav1.CreateOptions{}); err != nil {
			return nil, err
		}
		after := fmt.Sprintf("mine-after-%d", round)
		if err := seen.waitFor(ctx, after+" after the relist", o.timeout, func() bool { return seen.has(after) && seen.has("mine-c") }); err != nil {
			return nil, err
		}
		return map[string]any{"round": round, "rewatch": first, "relist": next}, nil
	}
	return nil, fmt.Errorf("no 410 Gone in 5 rounds")
}

func indexOf(lines []string, s string) int {
	for i, l := range lines {
		if l == s {
			return i
		}
	}
	return len(lines)
}

// nextPodRequest waits for the first pods request logged at index >= from.
func nextPodRequest(ctx context.Context, log *requestLog, from int, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		for _, l := range log.since(from) {
			if strings.Contains(l, "/pods?") && strings.HasPrefix(l, "GET ") && strings.Contains(l, "fieldSelector") {
				return l, nil
			}
		}
		select {
		case <-log.added:
		case <-ctx.Done():
			return "", fmt.Errorf("no pods request within %s after index %d: %v", timeout, from, log.since(from))
		}
	}
}

// isInitialSync: a LIST (no watch) or a watch-list (sendInitialEvents=true).
func isInitialSync(line string) bool {
	return !strings.Contains(line, "watch=true") || strings.Contains(line, "sendInitialEvents=true")
}

// awaitBookmark opens a raw watch on nodes with bookmarks allowed and returns the first BOOKMARK decoded. A
// watch the server ends (the test's compaction ends them all) is opened again after a fresh list.
func awaitBookmark(ctx context.Context, cs kubernetes.Interface, o opts) map[string]any {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	for ctx.Err() == nil {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return map[string]any{"error": err.Error()}
		}
		w, err := cs.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{
			ResourceVersion:     list.ResourceVersion,
			AllowWatchBookmarks: true,
		})
		if err != nil {
			return map[string]any{"error": err.Error()}
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Bookmark {
				w.Stop()
				n, isNode := ev.Object.(*corev1.Node)
				rv := ""
				if isNode {
					rv = n.ResourceVersion
				}
				return map[string]any{"type": string(ev.Type), "node": isNode, "resourceVersion": rv, "listResourceVersion": list.ResourceVersion}
			}
			if ev.Type == watch.Error {
				w.Stop()
				return map[string]any{"error": apierrors.FromObject(ev.Object).Error()}
			}
		}
		w.Stop()
	}
	return map[string]any{"error": fmt.Sprintf("no bookmark within %s", o.timeout)}
}
