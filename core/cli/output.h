/* SPDX-License-Identifier: MIT */
/*
 * What the commands print with: what kind of terminal (if any) a stream
 * is, tables whose columns fit their content, a progress line for long
 * work, and a frame that redraws in place. All of it main thread only.
 */
#ifndef TASKJET_CLI_OUTPUT_H
#define TASKJET_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- the terminal ---- */

struct cli_term {
	bool tty; /* a terminal */
	/* A terminal that takes \r and escape sequences: a tty whose TERM is
	 * set and not "dumb". Progress lines and redraws need it. */
	bool redraw;
	bool color; /* redraw, and NO_COLOR is unset or empty */
	bool utf8; /* the locale (LC_ALL, LC_CTYPE, LANG) is UTF-8: "…" may be written */
	int width, height; /* columns and rows of a tty; 0: unknown */
};

/* The one place that decides what `f` is: isatty, TERM=dumb, NO_COLOR,
 * the window size (else $COLUMNS). */
void cli_term_detect(FILE *f, struct cli_term *term_r);

/* ---- tables ---- */

enum cli_align { CLI_LEFT, CLI_RIGHT };

struct cli_column {
	const char *title; /* NULL in every column: no header line */
	enum cli_align align;
	bool wide_gap; /* two spaces before the column instead of one */
	/* 0: never cut. Otherwise the column may be cut, with an ellipsis,
	 * when the table is wider than the terminal (never on a pipe, where
	 * nothing is cut): higher values first, then the widest. */
	int shrink;
};

/*
 * A table: each column as wide as its widest cell (or title), so long names
 * keep the columns aligned. Cells are added row by row; a row ends after the
 * last column or with a note. cols is borrowed for the table's life.
 */
struct cli_table;
struct cli_table *cli_table_new(const struct cli_column *cols, size_t ncols);
/* The arguments for a static array of columns. */
#define CLI_COLUMNS(cols) (cols), sizeof(cols) / sizeof((cols)[0])
/* Spaces before every line (default 0). */
void cli_table_indent(struct cli_table *t, int indent);
/* The next cell. */
void cli_table_add(struct cli_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* End the row early with free text after the cells given so far; it does
 * not count for the column widths ("(not found on the server)"). */
void cli_table_note(struct cli_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
size_t cli_table_rows(const struct cli_table *t);
/* Print the header (bold on a color terminal) and the rows; `term` (may be
 * NULL) is what `out` is, for the width and the ellipsis. */
void cli_table_print(const struct cli_table *t, FILE *out, const struct cli_term *term);
void cli_table_free(struct cli_table *t);

/* ---- long work ---- */

/*
 * A progress line on stderr, redrawn with \r at most ten times a second,
 * while stderr is a terminal that can redraw; nothing otherwise (the
 * command prints its summary either way).
 */
struct cli_progress {
	FILE *out; /* NULL: not drawn */
	const char *verb; /* "publishing" */
	uint64_t total, done;
	int64_t start_ms, drawn_ms;
	bool shown; /* a line is on the screen */
};

/* Start the clock and, when `show` (false for --quiet) and stderr can
 * redraw, draw the first line at once. */
void cli_progress_start(struct cli_progress *p, const char *verb, uint64_t total, bool show);
/* One more done; redraws when 100 ms have passed since the last time. */
void cli_progress_step(struct cli_progress *p);
/* Erase the line, before printing anything else and at the end; the next
 * step draws it again. */
void cli_progress_clear(struct cli_progress *p);
/* Seconds since start. */
double cli_progress_seconds(const struct cli_progress *p);

/* "6250/s" for n things in `seconds`. */
void cli_format_rate(uint64_t n, double seconds, char *buf, size_t len);

/*
 * Successive frames of a display (stats --watch). On a terminal that can
 * redraw, each frame overwrites the one before; otherwise frames follow
 * each other, a blank line apart.
 */
struct cli_screen {
	int rows; /* rows the last frame took on the terminal */
	long frames;
};

/* Show `text` (whole lines) as the next frame on `out`. */
void cli_screen_frame(struct cli_screen *s, FILE *out, const struct cli_term *term,
                      const char *text, size_t len);

#endif
