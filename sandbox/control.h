/*
 * control.h - the /_sandbox/ control API and the startup organizations.
 */
#ifndef SANDBOX_CONTROL_H
#define SANDBOX_CONTROL_H

#include "store.h"

void		orgs_generate(Org ***out, int *n);

#endif
