/* SPDX-License-Identifier: MIT */
/* Terminal detection, tables, progress lines and redrawn frames. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/output.h"
#include "util/clock.h"
#include "util/xalloc.h"

/* ---- the terminal ---- */

static bool
env_set(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0';
}

/* The first of LC_ALL, LC_CTYPE, LANG that is set decides, as for
 * setlocale(LC_CTYPE, ""). */
static bool
locale_is_utf8(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		if (v != NULL && v[0] != '\0')
			return strcasestr(v, "utf-8") != NULL || strcasestr(v, "utf8") != NULL;
	}
	return false;
}

void
cli_term_detect(FILE *f, struct cli_term *term_r)
{
	const char *term = getenv("TERM"), *columns = getenv("COLUMNS");
	struct winsize ws = { 0 };
	int fd = fileno(f);

	memset(term_r, 0, sizeof(*term_r));
	term_r->tty = fd >= 0 && isatty(fd);
	if (!term_r->tty)
		return;
	term_r->redraw = term != NULL && term[0] != '\0' && strcmp(term, "dumb") != 0;
	term_r->color = term_r->redraw && !env_set("NO_COLOR");
	term_r->utf8 = locale_is_utf8();
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0) {
		term_r->width = ws.ws_col;
		term_r->height = ws.ws_row;
	}
	if (term_r->width == 0 && columns != NULL)
		term_r->width = atoi(columns) > 0 ? atoi(columns) : 0;
}

/* ---- text width ---- */

/* Columns `s` takes: one per UTF-8 character (continuation bytes take none). */
static size_t
display_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* Bytes of the first `cols` columns of s. */
static size_t
prefix_bytes(const char *s, size_t cols)
{
	size_t i = 0;

	for (size_t w = 0; s[i] != '\0'; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && w++ == cols)
			break;
	}
	return i;
}

static __attribute__((format(printf, 1, 0))) char *
vformat(const char *fmt, va_list ap)
{
	va_list again;
	int n;
	char *s;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	s = xmalloc(n > 0 ? (size_t)n + 1 : 1);
	vsnprintf(s, n > 0 ? (size_t)n + 1 : 1, fmt, ap);
	return s;
}

/* ---- tables ---- */

struct table_row {
	char **cells; /* ncells, each malloc'd */
	size_t ncells;
	char *note; /* NULL, or the text after the cells */
};

struct cli_table {
	const struct cli_column *cols;
	size_t ncols;
	int indent;
	struct table_row *rows;
	size_t nrows;
	bool open; /* the last row takes more cells */
};

struct cli_table *
cli_table_new(const struct cli_column *cols, size_t ncols)
{
	struct cli_table *t = xcalloc(1, sizeof(*t));

	t->cols = cols;
	t->ncols = ncols;
	return t;
}

void
cli_table_indent(struct cli_table *t, int indent)
{
	t->indent = indent;
}

static struct table_row *
current_row(struct cli_table *t)
{
	if (!t->open) {
		t->rows = xrealloc(t->rows, t->nrows + 1, sizeof(*t->rows));
		t->rows[t->nrows] = (struct table_row){
			.cells = xcalloc(t->ncols, sizeof(char *)),
		};
		t->nrows++;
		t->open = true;
	}
	return &t->rows[t->nrows - 1];
}

void
cli_table_add(struct cli_table *t, const char *fmt, ...)
{
	struct table_row *row = current_row(t);
	va_list ap;

	va_start(ap, fmt);
	row->cells[row->ncells++] = vformat(fmt, ap);
	va_end(ap);
	if (row->ncells == t->ncols)
		t->open = false;
}

void
cli_table_note(struct cli_table *t, const char *fmt, ...)
{
	struct table_row *row = current_row(t);
	va_list ap;

	va_start(ap, fmt);
	row->note = vformat(fmt, ap);
	va_end(ap);
	t->open = false;
}

size_t
cli_table_rows(const struct cli_table *t)
{
	return t->nrows;
}

void
cli_table_free(struct cli_table *t)
{
	if (t == NULL)
		return;
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->rows[r].ncells; c++)
			free(t->rows[r].cells[c]);
		free(t->rows[r].cells);
		free(t->rows[r].note);
	}
	free(t->rows);
	free(t);
}

static size_t
gap_before(const struct cli_table *t, size_t c)
{
	return c == 0 ? 0 : t->cols[c].wide_gap ? 2 : 1;
}

/* Each column as wide as its widest cell or title. */
static void
content_widths(const struct cli_table *t, size_t *widths)
{
	for (size_t c = 0; c < t->ncols; c++)
		widths[c] = t->cols[c].title != NULL ? display_width(t->cols[c].title) : 0;
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->rows[r].ncells; c++) {
			size_t w = display_width(t->rows[r].cells[c]);

			if (w > widths[c])
				widths[c] = w;
		}
	}
}

/* Narrow the shrinkable columns (by their shrink value, then widest first)
 * until a line fits `limit` columns or none can give more. A column keeps
 * its title and 8 columns. */
static void
fit_widths(const struct cli_table *t, size_t *widths, size_t limit)
{
	size_t total = (size_t)t->indent;

	for (size_t c = 0; c < t->ncols; c++)
		total += gap_before(t, c) + widths[c];
	while (total > limit) {
		size_t widest = t->ncols;

		for (size_t c = 0; c < t->ncols; c++) {
			size_t floor =
			    t->cols[c].title != NULL ? display_width(t->cols[c].title) : 0;

			if (t->cols[c].shrink == 0 || widths[c] <= (floor > 8 ? floor : 8))
				continue;
			if (widest == t->ncols || t->cols[c].shrink > t->cols[widest].shrink ||
			    (t->cols[c].shrink == t->cols[widest].shrink &&
			     widths[c] > widths[widest]))
				widest = c;
		}
		if (widest == t->ncols)
			return;
		widths[widest]--;
		total--;
	}
}

/* One cell in `width` columns: cut with an ellipsis when longer, padded
 * unless it ends the line. */
static void
print_cell(FILE *out, const char *text, size_t width, enum cli_align align, bool last,
           const struct cli_term *term)
{
	const char *ellipsis = term != NULL && term->utf8 ? "…" : "...";
	size_t w = display_width(text), ellw = display_width(ellipsis), pad;

	if (w > width) {
		fwrite(text, 1, prefix_bytes(text, width > ellw ? width - ellw : 0), out);
		fputs(ellipsis, out);
		return;
	}
	pad = width - w;
	if (align == CLI_RIGHT)
		fprintf(out, "%*s", (int)pad, "");
	fputs(text, out);
	if (align == CLI_LEFT && !last)
		fprintf(out, "%*s", (int)pad, "");
}

static void
print_line(const struct cli_table *t, FILE *out, const size_t *widths, char *const *cells,
           size_t ncells, const char *note, const struct cli_term *term)
{
	fprintf(out, "%*s", t->indent, "");
	for (size_t c = 0; c < ncells; c++) {
		fprintf(out, "%*s", (int)gap_before(t, c), "");
		print_cell(out, cells[c], widths[c], t->cols[c].align,
		           c + 1 == t->ncols && note == NULL, term);
	}
	if (note != NULL)
		fprintf(out, "%s%s", ncells > 0 ? " " : "", note);
}

void
cli_table_print(const struct cli_table *t, FILE *out, const struct cli_term *term)
{
	size_t *widths = xcalloc(t->ncols, sizeof(*widths));
	char **titles = xcalloc(t->ncols, sizeof(*titles));
	bool header = t->ncols > 0 && t->cols[0].title != NULL;

	content_widths(t, widths);
	if (term != NULL && term->tty && term->width > 0)
		fit_widths(t, widths, (size_t)term->width);
	if (header) {
		for (size_t c = 0; c < t->ncols; c++)
			titles[c] = (char *)t->cols[c].title;
		if (term != NULL && term->color)
			fputs("\033[1m", out);
		print_line(t, out, widths, titles, t->ncols, NULL, term);
		fputs(term != NULL && term->color ? "\033[0m\n" : "\n", out);
	}
	for (size_t r = 0; r < t->nrows; r++) {
		print_line(t, out, widths, t->rows[r].cells, t->rows[r].ncells, t->rows[r].note,
		           term);
		fputc('\n', out);
	}
	free(titles);
	free(widths);
}

/* ---- progress ---- */

/* A redraw at most this often. */
#define PROGRESS_EVERY_MS 100

/* "<1 s", "42 s", "3 min 05 s", "2 h 07 min". */
static void
format_duration(double seconds, char *buf, size_t len)
{
	long s = (long)(seconds + 0.5);

	if (seconds < 1)
		snprintf(buf, len, "<1 s");
	else if (s < 60)
		snprintf(buf, len, "%ld s", s);
	else if (s < 3600)
		snprintf(buf, len, "%ld min %02ld s", s / 60, s % 60);
	else
		snprintf(buf, len, "%ld h %02ld min", s / 3600, s % 3600 / 60);
}

void
cli_format_rate(uint64_t n, double seconds, char *buf, size_t len)
{
	double rate = seconds > 0 ? (double)n / seconds : 0;

	snprintf(buf, len, rate < 10 ? "%.1f/s" : "%.0f/s", rate);
}

static void
progress_draw(struct cli_progress *p, int64_t now)
{
	double seconds = (double)(now - p->start_ms) / 1000;
	char rate[32], left[32];

	fprintf(p->out, "\r%s %llu/%llu (%d%%)", p->verb, (unsigned long long)p->done,
	        (unsigned long long)p->total, p->total > 0 ? (int)(p->done * 100 / p->total) : 100);
	if (p->done > 0 && seconds > 0) {
		cli_format_rate(p->done, seconds, rate, sizeof(rate));
		format_duration((double)(p->total - p->done) * seconds / (double)p->done, left,
		                sizeof(left));
		fprintf(p->out, ", %s, %s left", rate, left);
	}
	fputs("\033[K", p->out);
	fflush(p->out);
	p->drawn_ms = now;
	p->shown = true;
}

void
cli_progress_start(struct cli_progress *p, const char *verb, uint64_t total, bool show)
{
	struct cli_term term;

	cli_term_detect(stderr, &term);
	*p = (struct cli_progress){
		.out = show && term.redraw ? stderr : NULL,
		.verb = verb,
		.total = total,
		.start_ms = clock_mono_ms(),
	};
	if (p->out != NULL)
		progress_draw(p, p->start_ms);
}

void
cli_progress_step(struct cli_progress *p)
{
	int64_t now;

	p->done++;
	if (p->out == NULL)
		return;
	now = clock_mono_ms();
	if (!p->shown || now - p->drawn_ms >= PROGRESS_EVERY_MS)
		progress_draw(p, now);
}

void
cli_progress_clear(struct cli_progress *p)
{
	if (p->out == NULL || !p->shown)
		return;
	fputs("\r\033[K", p->out);
	fflush(p->out);
	p->shown = false;
}

double
cli_progress_seconds(const struct cli_progress *p)
{
	return (double)(clock_mono_ms() - p->start_ms) / 1000;
}

/* ---- frames ---- */

/* Rows `text` takes on a terminal `width` columns wide (0: unknown, one
 * row a line). */
static int
count_rows(const char *text, size_t len, int width)
{
	int rows = 0;

	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - text) : len, w = 0;

		for (size_t j = i; j < end; j++) {
			if (text[j] == '\033' && j + 1 < end && text[j + 1] == '[') {
				/* ESC [ parameters final-byte (bold, reset) takes
				 * no room. */
				for (j += 2; j < end && !(text[j] >= 0x40 && text[j] <= 0x7e); j++)
					;
			} else if (((unsigned char)text[j] & 0xc0) != 0x80) {
				w++;
			}
		}
		rows += width > 0 && w > (size_t)width
		            ? (int)((w + (size_t)width - 1) / (size_t)width)
		            : 1;
		i = end + 1;
	}
	return rows;
}

void
cli_screen_frame(struct cli_screen *s, FILE *out, const struct cli_term *term, const char *text,
                 size_t len)
{
	if (!term->redraw) {
		if (s->frames > 0)
			fputc('\n', out);
	} else if (s->rows > 0 && (term->height == 0 || s->rows < term->height)) {
		/* Up to where the last frame began, and clear from there. */
		fprintf(out, "\033[%dA\r\033[J", s->rows);
	} else if (s->rows > 0) {
		/* Taller than the screen: its top scrolled away; start over. */
		fputs("\033[H\033[2J", out);
	}
	fwrite(text, 1, len, out);
	fflush(out);
	s->rows = count_rows(text, len, term->width);
	s->frames++;
}
