/*
 * addr — the character-level rules of mail addresses shared by the config
 * loader, the validator and the message writer (RFC 5322 §3.2.3, RFC 5321
 * §4.1.2, RFC 1035 §2.3.1).  Pure.
 */
#ifndef FORMPOST_ADDR_H
#define FORMPOST_ADDR_H

/* 1 when c is RFC 5322 atext. */
int addr_is_atext(int c);

/* 1 when d is a domain of LDH labels (1..63 octets, no leading or
 * trailing '-', either letter case) with at least one dot, at most
 * LIM_ADDR_DOMAIN octets: the A-label form formpost sends mail to. */
int addr_domain_ok(const char *d);

#endif
