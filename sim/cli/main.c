/* faultline: the command line. */
#include "sim/check/check.h"
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return fl_check_main(argc - 1, argv + 1);
    fprintf(stderr, "usage: faultline check ...\n");
    return 2;
}
