"""The labelled set the dedupe thresholds were calibrated on (``mnemoplug.core.hygiene``):
pairs that state the same thing (should merge) and pairs that state different things, often
in nearly the same words (must not). Also used by ``benchmarks/hygiene.py``."""

from __future__ import annotations

SAME = [
    ("My dog is called Rex.", "My dog's name is Rex."),
    ("My dog is called Rex.", "my dog is called rex"),
    ("I live in Berlin.", "I live in Berlin now."),
    ("I'm allergic to peanuts.", "I am allergic to peanuts."),
    ("My favourite colour is blue.", "My favorite color is blue."),
    ("I work as a nurse.", "I'm working as a nurse."),
    ("Your dog is called Rex.", "Your dog's name is Rex."),
    ("My birthday is on March 3rd.", "My birthday is March 3rd."),
    ("I prefer tea over coffee.", "I prefer tea to coffee."),
    ("I'm vegetarian.", "I am a vegetarian."),
    ("My wife's name is Anna.", "My wife is called Anna."),
    (
        "Got it, I'll remember that your dog is called Rex.",
        "Sure, I'll remember your dog is called Rex.",
    ),
    ("I don't know your dog's name.", "I do not know the name of your dog."),
    ("Your dog is called Rex.", "Your dog is named Rex."),
    ("I have a daughter called Mia.", "I have a daughter named Mia."),
    ("echo: what is my dog called", "echo: What is my dog called?"),
    ("We are moving to Spain next year.", "We're moving to Spain next year."),
    ("I play tennis every Sunday.", "I play tennis on Sundays."),
]

DIFFERENT = [
    ("My dog is called Rex.", "My cat is called Tom."),
    ("My dog is called Rex.", "My dog is three years old."),
    ("My dog is called Rex.", "My dog is called Max."),
    ("I live in Berlin.", "I work in Berlin."),
    ("I live in Berlin.", "I live in Munich."),
    ("I'm allergic to peanuts.", "I'm allergic to shellfish."),
    ("My favourite colour is blue.", "My favourite food is pizza."),
    ("I have two kids.", "I have two dogs."),
    ("My wife's name is Anna.", "My sister's name is Anna."),
    ("I prefer tea over coffee.", "I prefer coffee over tea."),
    ("I started a new job at Google.", "I quit my job at Google."),
    ("My son plays football.", "My son plays the piano."),
    ("I'm 34 years old.", "I'm 43 years old."),
    ("I have a meeting with Bob on Monday.", "I have a meeting with Bob on Friday."),
    ("I don't know your dog's name.", "Your dog is called Rex."),
    ("I like dogs.", "I don't like dogs."),
    ("My flight leaves at 9am.", "My flight leaves at 11am."),
    ("I love hiking in the Alps.", "I love skiing in the Alps."),
    ("My brother lives in Paris.", "My brother works in Paris."),
    ("The meeting is on 2024-05-01.", "The meeting is on 2024-06-01."),
]

#: (text, is it only a question?) for the question rule
QUESTIONS = [
    ("What is my dog called?", True),
    ("whats my pet's name", True),
    ("Remind me what my dog is called.", True),
    ("Do you remember my dog's name?", True),
    ("Tell me about my pet.", True),
    ("Who is Rex?", True),
    ("Is my dog called Rex?", True),
    ("And the name of my dog?", True),
    ("Which animal do I have? What is it called?", True),
    ("My dog is called Rex.", False),
    ("I just moved to Berlin, any tips?", False),
    ("Did I tell you that my dog is called Rex?", False),
    ("Please remember that I am allergic to peanuts.", False),
    ("My dog is called Rex. What should I feed him?", False),
    ("Thanks!", False),
    ("Your dog is called Rex.", False),
]
