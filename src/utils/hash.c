/*
 * The shared chained hash table: see hash.h.
 */
#include "collectd_compat.h"

#include "hash.h"

#include <errno.h>

int hash_table_init(hash_table_t *t, size_t n_buckets, bool grows) {
  size_t n = 1;
  while (n < n_buckets)
    n <<= 1;
  *t = (hash_table_t){.grows = grows};
  t->buckets = calloc(n, sizeof(*t->buckets));
  if (t->buckets == NULL)
    return -ENOMEM;
  t->n_buckets = n;
  return 0;
}

int hash_table_init_bounded(hash_table_t *t, size_t max_entries,
                            size_t min_buckets) {
  size_t n_buckets = max_entries / 2;
  if (n_buckets < min_buckets)
    n_buckets = min_buckets;
  return hash_table_init(t, n_buckets, HASH_TABLE_FIXED);
}

void hash_table_clear(hash_table_t *t, void (*free_node)(hash_node_t *n)) {
  if (free_node != NULL) {
    HASH_TABLE_FOREACH(t, n, next) { free_node(n); }
  }
  if (t->buckets != NULL)
    memset(t->buckets, 0, t->n_buckets * sizeof(*t->buckets));
  t->len = 0;
}

void hash_table_destroy(hash_table_t *t, void (*free_node)(hash_node_t *n)) {
  hash_table_clear(t, free_node);
  free(t->buckets);
  *t = (hash_table_t){.grows = false};
}

/* Doubles the buckets. Chains are taken bucket by bucket, each from its
 * head, and pushed onto the heads of the new ones. */
static void hash_table_grow(hash_table_t *t) {
  size_t n = t->n_buckets * 2;
  hash_node_t **grown = calloc(n, sizeof(*grown));
  if (grown == NULL)
    return;
  for (size_t i = 0; i < t->n_buckets; i++) {
    hash_node_t *node = t->buckets[i];
    while (node != NULL) {
      hash_node_t *next = node->next;
      size_t j = node->hash & (n - 1);
      node->next = grown[j];
      grown[j] = node;
      node = next;
    }
  }
  free(t->buckets);
  t->buckets = grown;
  t->n_buckets = n;
}

void hash_table_insert(hash_table_t *t, hash_node_t *n, uint64_t hash) {
  hash_node_t **head = &t->buckets[hash & (t->n_buckets - 1)];
  n->hash = hash;
  n->next = *head;
  *head = n;
  if (++t->len > t->n_buckets && t->grows)
    hash_table_grow(t);
}

hash_node_t *hash_table_find(const hash_table_t *t, uint64_t hash,
                             hash_equal_cb equal, const void *key) {
  if (t->n_buckets == 0)
    return NULL;
  for (hash_node_t *n = t->buckets[hash & (t->n_buckets - 1)]; n != NULL;
       n = n->next)
    if (n->hash == hash && (equal == NULL || equal(n, key)))
      return n;
  return NULL;
}

hash_node_t *hash_table_find_next(const hash_table_t *t, const hash_node_t *n,
                                  hash_equal_cb equal, const void *key) {
  (void)t; /* n's chain is the only one that can hold n's hash */
  for (hash_node_t *m = n->next; m != NULL; m = m->next)
    if (m->hash == n->hash && (equal == NULL || equal(m, key)))
      return m;
  return NULL;
}

void hash_table_remove(hash_table_t *t, hash_node_t *n) {
  hash_node_t **pp = &t->buckets[n->hash & (t->n_buckets - 1)];
  while (*pp != n)
    pp = &(*pp)->next;
  *pp = n->next;
  n->next = NULL;
  t->len--;
}

/* The head of the first non-empty bucket from index i on. */
static hash_node_t *hash_table_from(const hash_table_t *t, size_t i) {
  for (; i < t->n_buckets; i++)
    if (t->buckets[i] != NULL)
      return t->buckets[i];
  return NULL;
}

hash_node_t *hash_table_first(const hash_table_t *t) {
  return hash_table_from(t, 0);
}

hash_node_t *hash_table_next(const hash_table_t *t, const hash_node_t *n) {
  if (n->next != NULL)
    return n->next;
  return hash_table_from(t, (n->hash & (t->n_buckets - 1)) + 1);
}
