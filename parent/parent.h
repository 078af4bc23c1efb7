/* The three roles' entry points; each file owns one process. */
#ifndef OCB_PARENT_H
#define OCB_PARENT_H

int	parent_main(int argc, char **argv);
int	front_main(void);
int	netproc_main(void);

#endif
