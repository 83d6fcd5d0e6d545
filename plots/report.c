#include "plots/plot_impl.h"
