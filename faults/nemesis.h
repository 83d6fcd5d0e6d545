/* faults/nemesis: the random fault schedule, made explicit.
 *
 * A nemesis draws its whole schedule from the faults' stream when it
 * starts.  These functions give that schedule back as plain fault objects
 * (explicit node ids, orders, times), so that a fuzzer can replace the
 * nemesis with them, shrink them and replay them. */
#pragma once

#include "sim/fault.h"

/* The faults nemesis @f drew, as a JSON array of fault objects in the
 * scenario format, ordered by start time; NULL if @f is not a nemesis or has
 * not started.  Transfer full. */
json_t *fl_nemesis_schedule(const FlFault *f);

/* The scenario's faults as resolved, with every nemesis that started
 * replaced by the faults it drew: a list that replays the same faults with
 * no randomness left in the schedule.  Call after a run.  Transfer full. */
json_t *fl_faults_explicit(const FlScenario *sc);
