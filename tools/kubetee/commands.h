#ifndef KT_COMMANDS_H
#define KT_COMMANDS_H

int cmd_keygen(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_gendata(int argc, char **argv);
int cmd_catsig(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_attest(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_signer(int argc, char **argv);
int cmd_new(int argc, char **argv);
int cmd_call(int argc, char **argv);

#endif
