/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The captures' v2 sequences (see v2_codes.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "tests/support/v2_codes.h"

const struct str_case v2_codes[] = {
	{ "sse-abort-idle.txt", "SI" },
	{ "sse-abort.txt", "CUMAUSMUFMSAATTTESIAMXSI" },
	{ "sse-bad-agent.txt", "CEE" },
	{ "sse-bad-model.txt", "CUMAUSESIE" },
	{ "sse-command.txt", "UMAUSMUFMSAATTTTAATTTAAMMXSSIUFM" },
	{ "sse-edit.txt", "MAUSMUFMSAKKKAMAMXSMUFSAKKKMAMMXSMUFSAKKKK"
	    "MAMAMXSMUFSAATTAMAMMXSSIUFM" },
	{ "sse-error.txt", "CUMAUSMSUFMESIMXSI" },
	{ "sse-file.txt", "MAAAAUSMUFMSAATTTTTTAAMMXSSIUFM" },
	{ "sse-first-prompt.txt", "CUMAUSMUUFMSAATTTTTTAAMMXSSIUFM" },
	{ "sse-full.txt", "UMAUSMUFMSAATTTTAKOKKAMMXSMUFSMAKQKqKAMMXSMUFSA"
	    "KKMPRKKKAMMXSMUFSAATTAMAMMXSSIUFM" },
	{ "sse-permission-reject.txt", "CUMAUSMUFMSAKPKRKAMMXSIUFM" },
	{ "sse-permission.txt", "CUMAUSMUFMSAKKPRKKKAMMXSMUFSAATMTTTAAMMXSS"
	    "IUFM" },
	{ "sse-question-reject.txt", "UMAUSMSAKQKUFMqKAMMXSIUFM" },
	{ "sse-question.txt", "MAUSMUFMSAKQKqKAMMXSMUFSAATTAMAMMXSSIUFM" },
	{ "sse-queued.txt", "CUMAUSMSUFMAATMAUTTTAAMMXSMUFSAATTTMTTTAAMMXSS"
	    "IUFM" },
	{ "sse-reasoning.txt", "UMAUSMUFMSAATTTTAATTTAAMMXSSIUFM" },
	{ "sse-retry.txt", "CUMAUSMUFMSSSSMXSI" },
	{ "sse-revert-busy.txt", "MAUSMSUFMAATTTTTTAAMMXSSIUFM" },
	{ "sse-revert-part.txt", "FUaUMAUSMUFMSAATTTTTTAAMMXSSIUFM" },
	{ "sse-revert-prompt.txt", "FUmmUMAUSMSUFMAATTTTTTAAMMXSSIUFM" },
	{ "sse-revert.txt", "FUU" },
	{ "sse-sessions.txt", "CUD" },
	{ "sse-summarize.txt", "MASMSAATTTAAMMXSSIUFM" },
	{ "sse-text.txt", "CUMAUSMUSUFMAATTTTTTAAMMXSSIUFM" },
	{ "sse-todo.txt", "MAUSMUFMSAKOKKAMMXSMUFSAATTAMAMMXSSIUFM" },
	{ "sse-tool.txt", "CUMAUSMSUFMAKKKAMMXSMUFSAATTTTAMAMMXSSIUFM" },
};

const size_t v2_ncodes = NCASES(v2_codes);
