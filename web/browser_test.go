package web_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's chromium through chromedp: one browser for the
// whole test binary, started on first use, and one isolated browser context (its
// own cookies) per tab. Every page a test visits goes through tab.page, which checks
// what every page must satisfy: labelled form fields, no sideways scrolling on a
// phone, and, for the portal, the page weight. It takes a PNG screenshot at a desktop
// and at a phone viewport; they are written out when the test fails (or always with
// go test -artifacts).
//
// Every step has its own deadline (stepTimeout) and fails naming the step, so a
// stuck page fails the test in a minute instead of hanging it. A step that makes
// the browser load a page (a click on a link or a submit button, Enter in a form)
// goes through tab.submit, which waits for the new page itself: waiting for an
// element instead can be satisfied by the page being left (a notice or a heading it
// already had), and a script evaluated while the browser swaps the document can
// lose its answer for good. Native dialogs (confirm, alert) are accepted at once
// and recorded (tab.dialogs), so none is left open to block the page.

const chromiumPath = "/usr/bin/chromium"

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	dir    string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dir != "" {
		os.RemoveAll(browser.dir)
	}
	os.Exit(code)
}

// startBrowser starts the one chromium of the test binary.
func startBrowser() (context.Context, error) {
	browser.once.Do(func() {
		path := chromiumPath
		if _, err := os.Stat(path); err != nil {
			if path, err = exec.LookPath("chromium"); err != nil {
				browser.err = errors.New("no chromium at " + chromiumPath + ": install chromium (make test does this)")
				return
			}
		}
		dir, err := os.MkdirTemp("", "roundtrip-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		browser.dir = dir
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(dir),
			chromedp.WindowSize(desktopW, desktopH),
		)
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		if err := chromedp.Do(bctx); err != nil {
			bcancel()
			acancel()
			browser.err = fmt.Errorf("start chromium (%s): %w; install chromium (make test does this)", path, err)
			return
		}
		browser.ctx, browser.cancel = bctx, func() { bcancel(); acancel() }
	})
	return browser.ctx, browser.err
}

const (
	desktopW, desktopH = 1280, 900
	phoneW, phoneH     = 390, 844
	// maxPortalPage is the most a portal page may weigh, HTML, CSS and JS together.
	maxPortalPage = 60 << 10
	// stepTimeout bounds each browser step: generous for a loaded machine, short
	// enough that a lost answer fails the test with its step's name.
	stepTimeout = time.Minute
)

var tabs atomic.Int64

type shot struct {
	name string
	png  []byte
}

// tab is a browser tab with its own cookies.
type tab struct {
	t       *testing.T
	id      int64 // numbers the tabs of a test, for the screenshots' names
	ctx     context.Context
	base    string
	mu      sync.Mutex
	shots   []shot
	asked   []string // the messages of the native dialogs the page opened
	Weights map[string]int64
}

func newTab(t *testing.T, base string) *tab {
	t.Helper()
	bctx, err := startBrowser()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil { // opens the tab; no timeout on this first run
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 5*time.Minute) // a stuck page fails the test instead of hanging it
	b := &tab{t: t, id: tabs.Add(1), ctx: tctx, base: base, Weights: map[string]int64{}}
	t.Cleanup(func() {
		b.saveShots()
		tcancel()
		cancel()
	})
	// every page is counted in full: nothing comes from the cache
	if _, err := chromedp.Call(tctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		t.Fatal(err)
	}
	// a native dialog blocks every later step of the page until it is answered:
	// accept it (as a person confirming would) and record what it asked
	dialogs := make(chan string, 16)
	if err := chromedp.Listen(tctx, func(ev any) {
		if d, ok := ev.(*cdppage.EventJavascriptDialogOpening); ok {
			select {
			case dialogs <- d.Message:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			select {
			case <-tctx.Done():
				return
			case msg := <-dialogs:
				b.mu.Lock()
				b.asked = append(b.asked, msg)
				b.mu.Unlock()
				ctx, cancel := context.WithTimeout(tctx, stepTimeout)
				chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
				cancel()
			}
		}
	}()
	b.do(chromedp.EmulateViewport(desktopW, desktopH))
	return b
}

// run runs one step with its own deadline, failing the test (with a screenshot)
// on error with what the step was.
func run[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		if ctx.Err() != nil && b.ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s: %w", stepTimeout, err)
		}
		b.snap("failure")
		b.t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// describe names actions for a failure message.
func describe(actions []chromedp.Action[chromedp.Void]) string {
	return fmt.Sprintf("%d action(s)", len(actions))
}

// do runs actions that stay on the page, failing the test (with a screenshot) on
// error.
func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	run(b, describe(actions), chromedp.Steps(actions...))
}

// submit runs actions that load a new page (a link, a submit button, Enter in a
// form) and waits until that page has loaded, returning its HTTP status. what
// names the step in a failure.
func (b *tab) submit(what string, actions ...chromedp.Action[chromedp.Void]) int {
	b.t.Helper()
	res := run(b, what+" (and the page it loads)", func(ctx context.Context, _ *chromedp.Target) (*network.Response, error) {
		return chromedp.RunResponse(ctx, actions...)
	})
	if res == nil {
		return 0
	}
	return int(res.Status)
}

// eval evaluates a JavaScript expression (awaiting a promise) into T.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	return run(b, fmt.Sprintf("evaluate %.80s", expr), chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

func (b *tab) open(path string) {
	b.t.Helper()
	run(b, "open "+path, chromedp.Navigate(b.base+path))
}

func (b *tab) waitVisible(css string) {
	b.t.Helper()
	run(b, "wait for "+css+" to show", chromedp.WaitVisible(chromedp.CSS(css)))
}

// poll waits until a JavaScript expression is true, for at most stepTimeout.
func (b *tab) poll(what, expr string) {
	b.t.Helper()
	run(b, what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(stepTimeout-5*time.Second)))
}

func (b *tab) text(css string) string {
	b.t.Helper()
	return run(b, "text of "+css, chromedp.Text(chromedp.CSS(css)))
}

// dialogs returns the messages of the native dialogs the page opened (each was
// accepted).
func (b *tab) dialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.asked)
}

// body is the text of the page.
func (b *tab) body() string { return eval[string](b, `document.body.innerText`) }

// status is the HTTP status of the page shown.
func (b *tab) status() int {
	return eval[int](b, `performance.getEntriesByType('navigation')[0].responseStatus`)
}

// path is the path and query of the page shown.
func (b *tab) path() string { return eval[string](b, `location.pathname + location.search`) }

// focused names the focused element by its id.
func (b *tab) focused() string {
	return eval[string](b, `document.activeElement ? document.activeElement.id : ''`)
}

func (b *tab) mustSee(parts ...string) {
	b.t.Helper()
	body := b.body()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			b.snap("failure")
			b.t.Errorf("the page %s lacks %q; it says:\n%.2000s", b.path(), p, body)
		}
	}
}

// weight sums what the page transferred: its document and every resource.
type weight struct {
	Total int64      `json:"total"`
	Items [][]string `json:"items"`
}

// page checks the page shown and records it under name: every form field has a
// label, a phone does not scroll sideways, and a portal page weighs less than
// maxPortalPage. It takes a screenshot at both viewports.
func (b *tab) page(name string, portal bool) {
	b.t.Helper()
	b.poll(name+": the page finishes loading", `document.readyState === 'complete'`)
	unlabelled := eval[[]string](b, `[...document.querySelectorAll('input, select, textarea')]
		.filter(e => e.type !== 'hidden')
		.filter(e => !((e.labels && e.labels.length > 0) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')))
		.map(e => e.outerHTML.slice(0, 120))`)
	if len(unlabelled) > 0 {
		b.t.Errorf("%s: form fields without a label: %v", name, unlabelled)
	}
	if portal {
		w := eval[weight](b, `(() => {
			const n = performance.getEntriesByType('navigation')[0];
			const items = [[n.name, String(n.transferSize)]];
			let total = n.transferSize;
			for (const r of performance.getEntriesByType('resource')) { total += r.transferSize; items.push([r.name, String(r.transferSize)]); }
			return {total, items};
		})()`)
		b.mu.Lock()
		b.Weights[name] = w.Total
		b.mu.Unlock()
		if w.Total == 0 || w.Total > maxPortalPage {
			b.t.Errorf("%s: the page transferred %d bytes, want 1 to %d: %v", name, w.Total, maxPortalPage, w.Items)
		}
	}
	b.snap(name + "-desktop")
	b.do(chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateMobile))
	type scroll struct {
		Width  int `json:"width"`
		Inner  int `json:"inner"`
		Client int `json:"client"`
	}
	sc := eval[scroll](b, `({width: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
		inner: window.innerWidth, client: document.documentElement.clientWidth})`)
	if sc.Width > sc.Inner || sc.Width > sc.Client || sc.Client > phoneW {
		b.t.Errorf("%s: on a %dx%d phone the page is %d px wide for a %d px window (%d px layout): it scrolls sideways",
			name, phoneW, phoneH, sc.Width, sc.Inner, sc.Client)
	}
	b.snap(name + "-phone")
	b.do(chromedp.EmulateViewport(desktopW, desktopH))
}

// snap takes a screenshot of the whole page, kept until the test ends.
func (b *tab) snap(name string) {
	if os.Getenv("NOSNAP") != "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return // the screenshot is a help, not a check
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.shots = append(b.shots, shot{fmt.Sprintf("tab%d-%02d-%s.png", b.id, len(b.shots)+1, name), img})
}

// saveShots writes the screenshots when the test failed, or always with
// -artifacts (into the test's artifact directory).
func (b *tab) saveShots() {
	artifacts := false
	if f := flag.Lookup("test.artifacts"); f != nil {
		artifacts = f.Value.String() == "true"
	}
	if !b.t.Failed() && !artifacts {
		return
	}
	dir := b.t.ArtifactDir()
	if !artifacts {
		// the artifact directory is removed after the test without -artifacts
		var err error
		if dir, err = os.MkdirTemp("", "roundtrip-web-"+strings.NewReplacer("/", "-", " ", "_").Replace(b.t.Name())+"-"); err != nil {
			b.t.Logf("screenshots not saved: %v", err)
			return
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.shots {
		if err := os.WriteFile(filepath.Join(dir, s.name), s.png, 0o644); err != nil {
			b.t.Logf("screenshot %s: %v", s.name, err)
		}
	}
	b.t.Logf("%d screenshots in %s", len(b.shots), dir)
}

// decodeQR reads the QR code of an element on screen with zbarimg.
func (b *tab) decodeQR(css string) string {
	b.t.Helper()
	if _, err := exec.LookPath("zbarimg"); err != nil {
		b.t.Fatal("no zbarimg: install zbar-tools (make test does this)")
	}
	img := run(b, "screenshot of "+css, chromedp.Screenshot(chromedp.CSS(css)))
	f := filepath.Join(b.t.TempDir(), "qr.png")
	if err := os.WriteFile(f, img, 0o644); err != nil {
		b.t.Fatal(err)
	}
	out, err := exec.Command("zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", f).Output()
	if err != nil {
		b.t.Fatalf("zbarimg could not read the QR code of %s: %v", css, err)
	}
	return strings.TrimSpace(string(out))
}
