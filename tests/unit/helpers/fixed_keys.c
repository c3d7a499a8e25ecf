/* SPDX-License-Identifier: MIT */
/*
 * fixed_keys.c: the embedded test keys of fixed_keys.h, shared by
 * fuzz_reg_client, fuzz_reg_relay and fuzz_sess (their seed corpora were
 * written from real handshakes between exactly these keys).
 */
#include <stddef.h>
#include <stdlib.h>

#include "fixed_keys.h"

/* Fixed 2048-bit test keys: never use them for anything else. */
static const char RELAY_KEY_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCnY2z0PyedSr1t\n"
    "iSE0GinueeJJm5Bg8FQl0MVmEtWb35zYqQ99suy8JrB+TVplZzL8JDwfBYw2n0+4\n"
    "IfuHKkxHywPYk4kvDMi3DnWJ+jo3H5Macw/oO+1mIisdhtfUNamrd9cd/H+Cd4pg\n"
    "uRCvq0J+6oP6LKpdSN1N3sgVbmHjyR00K31Ub3jVTFf9IZiI/KZ0kV200dfb5ShX\n"
    "yN8g43PDGm6NcgZpuRYAhfzct8UZ3ead9HQJ/y+0fLENimn1QEhvSFRtrQYgRhlR\n"
    "Zo4ypm9VMaW7/OUndRGzEZejTcF1XlgqmKXumGkuJr5Ovtp5EFR9Y9T8WXJH8mNn\n"
    "IZLInUcHAgMBAAECggEADkB86l7mNJJEhqsCVLlVkKR4C+Re6qILyBx6cjJwVZE4\n"
    "fYoHc6BkX7C7nkVfyPp8cNN0+v8x7QSrePYLwHptfD9g2HPXXlYsUMm+YD0Z78+U\n"
    "atAZLqDLmcKXATCV98+J3ruZaUgyYx1iftHDBfIC+2NkUUy0RLULgrHRP2Him85E\n"
    "eoNfh5uFfR3PBPuyXVPuyQqNZvrrAQj140PCfpyeGm4hf428+AX0IcwmhWzHhrPU\n"
    "Xx/eFd5Z8Kelw7MGAwX3hqMSbeZai86UQv4QaYFVQMC8GvcdHSZFHxjMaudMAbAa\n"
    "8xRDVLEuwCNVs+ytbc+gjYP0M7uhzrUNJpz7NH37AQKBgQDhEnjLJ/d4wUWDP5MD\n"
    "vp62VGEu0cXCaV5sWQAr4htDTbmLcjCIMalmTZW6QLDdG2Rt5leHACobseo5EiQc\n"
    "RvhQPg/5X/hzEUERFnOakOtstlqG/QcDkLq+eZk1kZG73eLjP0QEzfDXal4cR7nU\n"
    "YB6gM4YEIOlQNpajc0dzcNToYQKBgQC+Y8T0Gfo+cXeAYU8dpNMygzk/JjK2wc4r\n"
    "j3/y0LcW/nOb04mW6ZE9MtVz5u6jkVBoP8SxUTLcooWyAIB3nHs8bmTmen4M/tGl\n"
    "PrIy9p3jgtrvOt4FXJUmwHKIb+O15vAkNg5qw5cULn4K2NlJJhvNvo6kpSA8BO6Q\n"
    "/R0FZmjIZwKBgQDPm95YZxFbDcw0+Nt/RMHZpZPPQCiO3+r9PktuLy6+sl9IRZiG\n"
    "yGhduYs3NpzuF2pYBXUPThOJYF+RLS6p9rzuJ5FMkj32xh+ix3bzSGIg8UQn6BYk\n"
    "L8hSEpBEXXZ0OIQk4iK3288gpTkSFQdQ4yjc1Sn1fPY5y2DAfIGX9qgtgQKBgQCF\n"
    "G4WoT70oCPZOeDny9Lh/eUT9xHvyT/8Pb2052vgWiGFVUYjBTJyxV6fqN0siakb4\n"
    "C5U9jxJrNOkZ8MXgWjPCpT+/72XPOhxiVjoJ7Wenl2XvmY193COfCy9H+koOc93y\n"
    "wyRDOmmWv4Z5mPAY9x67Mn3R2Gx36c7M6Vlv3BBoAwKBgGBOBeDW3juIxNKl/kuJ\n"
    "PoPABWDY99ZkCB38ZD2l0tUK2ka5/La4CnE5vF0JFn4UvN4K3Vd3tQp7NhlWmseN\n"
    "0Swrub8wFPu6mmkgMzVsuZimPjuNVTdM1M7f82ppHTBhCrb5N945Ek5Y7RQs5SaV\n"
    "PKGqmz1FADTowYyB+TQMMoSo\n"
    "-----END PRIVATE KEY-----\n";

static const char ALICE_KEY_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDVncou4TKTUAPC\n"
    "d1vno2JVmjigCd1j7pVbz6eBoZXil6vPQ7LLmMtlU1Gdd/t9ZxO7pKbS3/YxIWxs\n"
    "nfwpcIDgexELppSkaSF0saluUZ5qPKNJYpGb1r+MnVt36hUdiMqnz0W42noBe/lI\n"
    "IxYVs2iDW6KtBDeH1STOhF7whW/m5gnLfmNCbMzVwDgW4O22qF6Jxlj//eBj0yVX\n"
    "7uEGS3lrAD6HdneVxAtHQLzEUVZ8uMNpVRcI3UpKicTopRaqpvfR0hFQ3lBDGOIq\n"
    "pq2aI9Z3lJK6x32nU3z3C72obB2iFsK3jcDqlpsCCxSN8Fc6ab5uc/YBa7m4GuQB\n"
    "ouLTgwlnAgMBAAECggEAN97mQ66o4Li70wAO7J3iGUuV5d3OptV/AR1lzVTq8/IB\n"
    "gNtPB0s2X5EUNqBsCZeNJLXi4CKtrJn2Vs5XZqtDOfNWOPrfw8SveGsDSpRUX6ru\n"
    "dkIunVjkjq2Vf96cmTXu80cWEEwsPvki8QgkPZbIDhtIiAIjWAaact1SS4xLAVPM\n"
    "p1u/ccjXNjvE595jSF6pY7Q7IecsI1qxYctjBvFOpm1T3/Ncx0oP4HrQImKz6wc7\n"
    "MD3Z1r/CIxC7LcB21U5Lw46qCfBc6dNUILZfkJxBC/uI75q6XDRY15bWa5coXF1/\n"
    "7SLS9msgZ6Hrx/qawisq+wGm0RDz51OfACAS3gOn0QKBgQD8xsILPtz2Q2WlCbUw\n"
    "enmPK/tnrAAk2Cp8Wm+bLNJstpQJRZuL/rnJY99Jt+DV6r4aoXxH5gBofHMVZROl\n"
    "nt5DwwMcE3e5BYX8AbpRzX9n4F8v5YyQi4oVFBxU9LurlluhyCvf5rV/ZiSH0o+l\n"
    "1fn+720/ztSiJEqalCwpunu+OQKBgQDYVy+CmbavHMlBWQVmH4YE0CfEDumVsUhR\n"
    "lWdspUUr8+GyYMv9RzcTHmiBJOuXcI1vz8qt8Rc0abKlzIuu0gdTFl/CI2xA2px5\n"
    "Gq7K5pZHXjFxx95QqnrJm1eBZd6YYEPPGNSfas9HNSxR1HpD96LxXIRcsljjc0M0\n"
    "1gmEzycEnwKBgHOKVj/VqCJYhCl/2nYiRVYQAIZOtHIi7KiSndkMD9LpUZk7W/IN\n"
    "qNZI9FM53WdqOSLrFWe31g/scp4g6W4Ww/mtNcqri1njEG80SvoBOG8+u8Ok5S9c\n"
    "2OzxmFGs2+t+ervkR0m8ptFo2uHKeSaQPAkvX3x/CepjNEab2+Pm/ZDhAoGAcvqL\n"
    "Xp7xb8od0GROsUMJyF8U82d1j8BkDjAYgq6nv79jcZlucRM7WybrJdAIgjkogodu\n"
    "UdnzmkCe2O2IQ4aOrAMVK6oF68YEKX0b7ux0bEPMhYtTRY4FqkasUDJjBpsLDvNE\n"
    "deGfflntTyRdQuhHKn4gPt/uzBvDWT50Wqh6NUMCgYAu1aYH1KJcAIyO1sm9TgyS\n"
    "Rg1oEWaGE2MJDrlLFeXDXXq/z7yDS3ZsQgXpztpJDCE7+LNFdv3moaHdzWS5cYaI\n"
    "bnM0UaiNh/KnMD15JaA8fB/QSMhGnBKey7s0AiEbbXweVt6NHeT0tE2AecLeYXUC\n"
    "mIUkikg5dQm5mNE+cdRgxQ==\n"
    "-----END PRIVATE KEY-----\n";

static const char BOB_KEY_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEugIBADANBgkqhkiG9w0BAQEFAASCBKQwggSgAgEAAoIBAQDqzdQaQeF+uCks\n"
    "Qx/yXVV54oGrI9GsOCrpXwJO8guJ5XDhIhyYVSCZBmNQGoQy5+ER9KgRSj8hKFOu\n"
    "O7+3D7FUeg14/ik/gSwubNiIo26Sdi/DCCVIZG/3WdnQxIMdTjvnWBLDVIXWK0/W\n"
    "ub3AL/KqRrztbq42l3FxG+w5wGOeMgji4rivembhqwjCz270vGXw9dBDZVjliU6D\n"
    "NFxkmVMYr6khh3gGamUN4V03WB5AzYxJYfxiS8BbctvxsCuZz141HUwYIl7YqrT/\n"
    "J86TvTESAiBG/zFvJ7+Q8FXQZKAbfJKSZPHDCS0JgzraxOBWlcz5jSayXaLk6F0Y\n"
    "dC7ai06lAgMBAAECgf8OUX7kxa3sU2sS5FpVe3gCBPiqaMvgbYxpPP5nCunFqZu4\n"
    "kKMRUa3V3/FnVKhlx6Gq2jJJFIUaVds2RMPPrRcVAXjQ2ctUzO9IVz5rT4wLDQ2H\n"
    "OrDScjEMZGAOoiYHXFpnQSJVjhkNBJcg5IgRPml/o17h/0FnhJvJ5moBVHL3lhQN\n"
    "Y6oWfXdZ7/CLfhzZDITg2AtrZ50EHvar05x8kapt/yuWNP9obsO+h00dxVtKl7xn\n"
    "mknsljgvX1ydWtoSpVHtPyL+vUrrgkWcD53Tg5ysHuKlr+HiIoJmdBc0VoFrAmnC\n"
    "PrDpOlV/g5Y+lT6mkDm2t8pSKJVsO7ClKmFYmLECgYEA97ipaXXWZ0f29LWfUwUU\n"
    "uxx8qCRYb0XHvEPsO8BhG+6PObAR67vhrDPqFrauLIaqfRt7jDubQGV+UhJtHW1g\n"
    "uicUKLT7oQYHrnGQpx5EwGmQTOqXKEVUZ6ddwVX/RzDlY8QyeLr8AcJr3rstQCns\n"
    "thNDsifvUabD5GlpH0/skukCgYEA8qanooDmhzYpYrFfob2hpo6/qM+10zxBcwlT\n"
    "5Nfs1bSsAak48kN6DH+Fj75XfBfkqS+ilRAh2G2dOQAmc5KBtRYNkGRFjahW/yTU\n"
    "IRvek90dEJAPLkXJQmJwHF2A4QTD3A8FvnImTdXiCYk4JP+FxOrcEJnYpnUTIk8F\n"
    "LWo0cF0CgYBR92su9wuzbu969yG5waOjagChTi1o3CkD1WG0P6qiKGSBzQ2Q98Dr\n"
    "Tt41F8s39nMxJEfUFeEABNUwaOJr60YnMkkMUx4zoKAoC3G2qmBLXmKd4L2VWKNe\n"
    "DNYL492s+7PbOA8PPaenGWLB9yM46OZnNKagq3AXj1ugF3TuJG7+CQKBgAb2447V\n"
    "dkhhNJThlGYXBEG8jSGyPHzAmPxNQzwpOmHz2o/9pGXHrAQZ0OKMSwSDxwtYE6mF\n"
    "mgMVOlL9fx0IEnL5HBCN4DUtpLmT/AarPxstWH02NUlVtW4TVzZpNJ7AvUJeqAKM\n"
    "Ui8fuWoepx7gup0pRIGxeLdmWtM8Q2DHUJP9AoGAXcBIut32gCwc5xDmukVnK5IG\n"
    "csxI10f6GkC59dXQh39ai8GUE29PxxHCkNqSoTUABkPrRdfGvW9LkEC8/+d5iBK2\n"
    "MdvkxkB5ttm4Zna+od+RIzG3q8YW2HaKZT2xZspaPr7ygLf4GALmYA5td2qqDXiJ\n"
    "HHshdiE10+K5iw5ibIw=\n"
    "-----END PRIVATE KEY-----\n";

struct srm_key *tu_fixed_key(enum tu_fixed_key which)
{
    /* Parsed once: per-input parsing would slow the fuzzers for nothing. */
    static struct srm_key *keys[3];
    static const struct {
        const char *pem;
        size_t len;
    } pems[3] = {
        {RELAY_KEY_PEM, sizeof(RELAY_KEY_PEM) - 1},
        {ALICE_KEY_PEM, sizeof(ALICE_KEY_PEM) - 1},
        {BOB_KEY_PEM, sizeof(BOB_KEY_PEM) - 1},
    };
    size_t i = (size_t)which;

    if (i >= sizeof(keys) / sizeof(keys[0])) {
        abort();
    }
    if (keys[i] == NULL && srm_key_from_pem(pems[i].pem, pems[i].len, 1, &keys[i]) != 0) {
        abort();
    }
    return keys[i];
}
