/* SPDX-License-Identifier: MIT */
/* NATS subject validity, matching and coverage, table-driven. */
#include <stddef.h>

#include "util/subject.h"
#include "testing.h"

struct pair_case {
	const char *pattern;
	const char *subject;
	bool expected;
};

TEST(valid_subjects)
{
	static const struct {
		const char *s;
		bool wildcards, expected;
	} cases[] = {
		{ "a", false, true },    { "a.b.c", false, true }, { "a.*", true, true },
		{ "a.>", true, true },   { ">", true, true },      { "a.*", false, false },
		{ "", true, false },     { "a..b", true, false },  { ".a", true, false },
		{ "a.", true, false },   { "a.>.b", true, false }, { "a.b*", true, false },
		{ "a b", false, false }, { "a.>x", true, false },  { "a\tb", false, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (subject_valid(cases[i].s, cases[i].wildcards) != cases[i].expected)
			testing_fail(__FILE__, __LINE__, "subject_valid(\"%s\", %d) != %d",
			             cases[i].s, cases[i].wildcards, cases[i].expected);
}

TEST(matches_follow_nats_token_rules)
{
	static const struct pair_case cases[] = {
		{ "provisioning.provision", "provisioning.provision", true },
		{ "provisioning.provision", "provisioning.update", false },
		{ "provisioning.*", "provisioning.update", true },
		{ "provisioning.*", "provisioning.a.b", false },
		{ "provisioning.*", "provisioning", false },
		{ "provisioning.>", "provisioning.a.b", true },
		{ "provisioning.>", "provisioning", false },
		{ "*.x", "a.x", true },
		{ "*.x", "a.y", false },
		{ ">", "anything.at.all", true },
		{ "a.*.c", "a.b.c", true },
		{ "a.*.c", "a.b.d", false },
		{ "a.b", "a.b.c", false },
		{ "a.b.c", "a.b", false },
		{ "a.*", "a.*", false }, /* a wildcard is not a literal subject */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (subject_matches(cases[i].pattern, cases[i].subject) != cases[i].expected)
			testing_fail(__FILE__, __LINE__, "matches(\"%s\", \"%s\") != %d",
			             cases[i].pattern, cases[i].subject, cases[i].expected);
}

TEST(covers_compares_patterns)
{
	static const struct pair_case cases[] = {
		{ "provisioning.>", "provisioning.provision", true },
		{ "provisioning.>", "provisioning.*", true },
		{ "provisioning.>", "provisioning.>", true },
		{ "provisioning.*", "provisioning.>", false },
		{ "provisioning.*", "provisioning.x.y", false },
		{ "provisioning.*", "provisioning.*", true },
		{ "provisioning.provision", "provisioning.*", false },
		{ "orders.>", "provisioning.provision", false },
		{ ">", "a.*.c", true },
		{ "a.*.c", "a.*.c", true },
		{ "a.b.c", "a.*.c", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (subject_covers(cases[i].pattern, cases[i].subject) != cases[i].expected)
			testing_fail(__FILE__, __LINE__, "covers(\"%s\", \"%s\") != %d",
			             cases[i].pattern, cases[i].subject, cases[i].expected);
}

int
main(void)
{
	RUN(valid_subjects);
	RUN(matches_follow_nats_token_rules);
	RUN(covers_compares_patterns);
	return testing_done();
}
