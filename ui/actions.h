/*
 * actions.h — every console action, once: its enum value, its name (used in
 * [bind] lines of the configuration and on the `:` command line), its
 * preconditions and its help line. The key bindings, the `?` screen,
 * `sitrep keys` and the man page's table all come from this list.
 */
#ifndef SITREP_UI_ACTIONS_H
#define SITREP_UI_ACTIONS_H

/* Preconditions, checked once before the handler runs. */
#define NEEDS_INCIDENT 1 /* an incident is selected */
#define WRITES 2         /* refused on a read-only database */

/*      id            name            flags                     help */
#define ACTION_LIST(_)                                                                      \
	_(MOVE_DOWN, "move-down", 0, "next line")                                           \
	_(MOVE_UP, "move-up", 0, "previous line")                                           \
	_(MOVE_FIRST, "move-first", 0, "first line")                                        \
	_(MOVE_LAST, "move-last", 0, "last line")                                           \
	_(PAGE_DOWN, "page-down", 0, "next page")                                           \
	_(PAGE_UP, "page-up", 0, "previous page")                                           \
	_(OPEN, "open", 0, "open the selected alert or cluster in full, with its raw payload") \
	_(FOCUS_NEXT, "focus-next", 0, "focus the next pane")                               \
	_(FOCUS_PREV, "focus-prev", 0, "focus the previous pane")                           \
	_(MAXIMIZE, "maximize", 0, "maximise the focused pane, or restore the layout")      \
	_(ACK, "ack", NEEDS_INCIDENT | WRITES, "acknowledge the incident")                   \
	_(RESOLVE, "resolve", NEEDS_INCIDENT | WRITES,                                      \
	  "resolve: asks for the root cause, the action taken, whether it worked")         \
	_(SNOOZE, "snooze", NEEDS_INCIDENT | WRITES, "snooze: asks for a duration")         \
	_(MARK, "mark", NEEDS_INCIDENT, "mark or unmark the incident")                      \
	_(MERGE, "merge", NEEDS_INCIDENT | WRITES,                                          \
	  "merge the marked incidents into the selected one")                              \
	_(SPLIT, "split", NEEDS_INCIDENT | WRITES,                                          \
	  "split the cluster selected in the report out into its own incident")            \
	_(COMMENT, "comment", NEEDS_INCIDENT | WRITES, "add a note to the timeline")        \
	_(LINKS, "links", NEEDS_INCIDENT,                                                   \
	  "the alert's links (runbook, source, dashboard); Enter copies one (OSC 52)")      \
	_(SEARCH, "search", 0, "search incident titles")                                    \
	_(SEARCH_NEXT, "search-next", 0, "next match")                                      \
	_(SEARCH_PREV, "search-prev", 0, "previous match")                                  \
	_(FILTER_STATE, "filter-state", 0, "cycle the queue: active, all, resolved")        \
	_(COMMAND, "command", 0, "command line: an action name, or state/severity/service") \
	_(HELP, "help", 0, "this help")                                                     \
	_(BACK, "back", 0, "leave a full-screen view or prompt")                            \
	_(REDRAW, "redraw", 0, "redraw the screen")                                         \
	_(QUIT, "quit", 0, "quit (asks when incidents are marked)")

enum action {
	ACT_NONE = 0,
#define ACTION_ENUM(id, name, flags, help) ACT_##id,
	ACTION_LIST(ACTION_ENUM)
#undef ACTION_ENUM
	ACT_COUNT
};

struct action_info {
	const char *name;
	int flags;
	const char *help;
};

const struct action_info *action_info(enum action a);
enum action action_by_name(const char *name);

#endif
